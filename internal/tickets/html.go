package tickets

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"

	"custos/internal/desk"
)

// newHTMLPolicy is what message HTML may keep (docs/decisions.md 30): text
// formatting, lists, quotes, code and tables; links to http, https and
// mailto only, which get rel="nofollow noreferrer" (and, when they leave
// the site, target="_blank" with rel="noopener"). Scripts, styles, event
// handlers, class/id/style attributes, forms, frames and images are
// dropped: an image in a message would be a tracking pixel that tells its
// sender when and from where an agent read it, so images travel as
// attachments, which are sniffed and served safely.
func newHTMLPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "div", "span", "b", "strong", "i", "em", "u", "s", "strike", "del", "ins",
		"sub", "sup", "small", "mark", "blockquote", "pre", "code", "hr",
		"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "dl", "dt", "dd",
		"table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td")
	p.AllowAttrs("dir").Matching(regexp.MustCompile(`^(ltr|rtl|auto)$`)).Globally()
	p.AllowAttrs("colspan", "rowspan").Matching(bluemonday.Integer).OnElements("td", "th")
	p.AllowAttrs("start").Matching(bluemonday.Integer).OnElements("ol")
	p.AllowAttrs("href").OnElements("a")
	// A link must lead somewhere: "https:" alone parses, but has no host.
	hasHost := func(u *url.URL) bool { return u.Host != "" }
	p.AllowURLSchemeWithCustomPolicy("http", hasHost)
	p.AllowURLSchemeWithCustomPolicy("https", hasHost)
	p.AllowURLSchemeWithCustomPolicy("mailto", func(u *url.URL) bool { return u.Opaque != "" })
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

// draft is a message checked and sanitised before its transaction starts,
// so the single SQLite writer never waits for HTML parsing.
type draft struct {
	msg           desk.Message
	attachmentIDs []string
}

// draft validates in as a message by a: the raw HTML is checked like text
// (UTF-8, no control characters, at most desk.MaxHTML) before it is
// sanitised, text is derived from the sanitised HTML when the client sent
// none, and attachment ids must have the id form. Whether the attachments
// exist and are the actor's is checked in the transaction (appendTx).
func (s *Service) draft(a Actor, in MessageInput) (draft, error) {
	p := desk.Problems{}
	desk.CheckText(p, "html", in.HTML, desk.MaxHTML, false)
	desk.CheckAttachmentIDs(p, "attachment_ids", in.AttachmentIDs)
	if err := p.Err(); err != nil {
		return draft{}, err
	}
	m := desk.Message{
		AuthorKind: a.Kind, AuthorID: a.ID, AuthorName: a.Name,
		Internal: in.Internal, Text: in.Text, ClientID: in.ClientID,
	}
	if in.HTML != "" {
		m.HTML = s.html.Sanitize(in.HTML)
		if strings.TrimSpace(m.HTML) == "" {
			m.HTML = ""
		}
		if strings.TrimSpace(m.Text) == "" {
			// Search, notifications and the customer widget show text:
			// an HTML-only message gets the text of its sanitised HTML.
			m.Text = htmlText(m.HTML)
			if len(m.Text) > desk.MaxText {
				return draft{}, &desk.Error{Code: desk.EInvalid, Message: "validation failed",
					Fields: map[string]string{"html": fmt.Sprintf("holds more than %d bytes of text", desk.MaxText)}}
			}
		}
	}
	// Validate as appendTx will, with placeholders for the attachments so
	// an attachment-only message needs no text.
	check := m
	check.Attachments = make([]desk.Attachment, len(in.AttachmentIDs))
	if err := check.Validate(); err != nil {
		return draft{}, err
	}
	return draft{msg: m, attachmentIDs: in.AttachmentIDs}, nil
}

// blockTags start a new line in the text of an HTML message.
var blockTags = map[string]bool{
	"p": true, "div": true, "br": true, "hr": true, "blockquote": true, "pre": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"ul": true, "ol": true, "li": true, "dl": true, "dt": true, "dd": true,
	"table": true, "caption": true,
}

// startMarks are written where list items, table rows and cells start.
var startMarks = map[string]string{"li": "\n- ", "tr": "\n", "td": " ", "th": " "}

// htmlText is the plain text of sanitised HTML: tags dropped, entities
// decoded, white space collapsed as a browser would (but inside pre), a
// line break per block element and list items marked "- ".
func htmlText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	pre := 0
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyText(b.String())
		case html.TextToken:
			t := string(z.Text())
			if pre == 0 {
				t = collapseSpace(t)
			}
			b.WriteString(t)
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			switch {
			case tag == "pre" && tt == html.StartTagToken:
				pre++
			case tag == "pre" && tt == html.EndTagToken && pre > 0:
				pre--
			}
			if mark, ok := startMarks[tag]; ok {
				if tt != html.EndTagToken {
					b.WriteString(mark)
				}
			} else if blockTags[tag] {
				b.WriteString("\n")
			}
		}
	}
}

// collapseSpace turns every run of HTML white space into one space.
func collapseSpace(t string) string {
	var b strings.Builder
	sp := false
	for _, r := range t {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' {
			if !sp {
				b.WriteByte(' ')
			}
			sp = true
			continue
		}
		sp = false
		b.WriteRune(r)
	}
	return b.String()
}

// tidyText trims every line (indentation inside pre is lost: this is a
// plain-text fallback), keeps at most one blank line between paragraphs
// and drops control characters an entity such as &#1; may have smuggled in.
func tidyText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return -1
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	lines := strings.Split(s, "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			blank++
			if blank > 1 || len(out) == 0 {
				continue
			}
			out = append(out, "")
			continue
		}
		blank = 0
		out = append(out, strings.TrimLeft(l, " "))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
