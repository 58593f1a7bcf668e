package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// WriteJSONLine writes v as one compact JSON object on one line. It must be
// the last thing a benchmark prints: scripts take the last line of stdout.
func WriteJSONLine(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode adds the one newline
		return fmt.Errorf("bench result: %w", err)
	}
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 || buf.Bytes()[0] != '{' {
		return fmt.Errorf("bench result is not a single-line JSON object")
	}
	_, err := w.Write(buf.Bytes())
	return err
}
