package bench

import (
	"fmt"
	"os"
	"time"
)

// FsyncCost measures what one durable commit costs at the bottom: the mean
// time of n small write+fsync pairs on a file in dir. It is the context for
// every durable-write figure (one message per commit caps at 1/FsyncCost).
func FsyncCost(dir string, n int) (time.Duration, error) {
	if n <= 0 {
		n = 200
	}
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0, fmt.Errorf("fsync probe: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	start := time.Now()
	for i := 0; i < n; i++ {
		if _, err := f.WriteAt(buf, int64(i%16)*4096); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}
