package attach

import (
	"bytes"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Sniff returns the content type of a file from its first bytes (up to 512)
// and whether it is on the allow-list. Only formats a browser displays
// without running anything are allowed: no HTML, SVG, XML, scripts,
// archives or executables, whatever the file is called.
func Sniff(head []byte) (string, bool) {
	if len(head) > 512 {
		head = head[:512]
	}
	// ISO base media (MP4, M4A): http.DetectContentType calls every ftyp
	// file video/mp4, but a voice note with major brand M4A must play as
	// audio.
	if len(head) >= 12 && string(head[4:8]) == "ftyp" {
		switch string(head[8:12]) {
		case "M4A ", "M4B ", "F4A ":
			return "audio/mp4", true
		case "isom", "iso2", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "dash", "MSNV", "M4V ", "3gp4", "3gp5":
			return "video/mp4", true
		}
		return "", false
	}
	// Raw AAC (ADTS), as some Android recorders write voice notes.
	if len(head) >= 2 && head[0] == 0xFF && head[1]&0xF6 == 0xF0 {
		return "audio/aac", true
	}
	ct := http.DetectContentType(head)
	switch ct {
	case "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "video/webm":
		return ct, true
	case "application/ogg", "audio/ogg":
		return "audio/ogg", true
	case "text/plain; charset=utf-8":
		if markup(head) {
			return "", false
		}
		return ct, true
	case "text/plain; charset=utf-16be", "text/plain; charset=utf-16le":
		// Browsers may decode these as markup-bearing HTML in edge cases;
		// not worth the risk for chat.
		return "", false
	}
	return "", false
}

// markupTags are openings that make a "text" file a document a browser (or
// an SVG renderer, or an XML parser) would interpret. http.DetectContentType
// only looks for HTML at the start, and not for SVG at all.
var markupTags = []string{"<svg", "<?xml", "<html", "<!doctype", "<script", "<body", "<iframe", "<object", "<embed", "<head", "<meta", "<!entity", "<xsl"}

func markup(head []byte) bool {
	// Cut a torn rune at the end so the UTF-8 check below is fair.
	for len(head) > 0 && !utf8.Valid(head) && len(head) > 508 {
		head = head[:len(head)-1]
	}
	if !utf8.Valid(head) {
		return true
	}
	lower := bytes.ToLower(head)
	for _, t := range markupTags {
		if bytes.Contains(lower, []byte(t)) {
			return true
		}
	}
	return strings.Contains(string(lower), "<") && bytes.Contains(lower, []byte("xmlns"))
}
