package tickets

import (
	"strings"
	"testing"
)

func TestSanitizeHTML(t *testing.T) {
	p := newHTMLPolicy()
	cases := []struct{ name, in, want string }{
		{"script", `<p>hi<script>alert(1)</script></p>`, `<p>hi</p>`},
		{"event handler and style", `<p onclick="x()" style="color:red" class="c" id="i">a</p>`, `<p>a</p>`},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, `x`},
		{"data link", `<a href="data:text/html,<script>alert(1)</script>">x</a>`, `x`},
		{"relative link", `<a href="/api/v1/agents">x</a>`, `x`},
		{"protocol-relative link", `<a href="//evil.example/x">x</a>`, `x`},
		{"https link", `<a href="https://example.com/a?b=1" target="_self" rel="opener">x</a>`,
			`<a href="https://example.com/a?b=1" rel="nofollow noreferrer noopener" target="_blank">x</a>`},
		{"mailto link", `<a href="mailto:help@example.com">m</a>`, `<a href="mailto:help@example.com" rel="nofollow noreferrer">m</a>`},
		{"image", `<p>a<img src="https://tracker.example/p.gif" onerror="x()">b</p>`, `<p>ab</p>`},
		{"iframe, form, svg", `<iframe src="https://x"></iframe><form action="x"><input name="p"></form><svg onload="x()"><circle/></svg>ok`, `ok`},
		{"style element", `<style>body{display:none}</style>text`, `text`},
		{"formatting kept", `<p dir="rtl"><b>b</b> <em>e</em><br><code>c</code></p><ul><li>1</li></ul>`, `<p dir="rtl"><b>b</b> <em>e</em><br><code>c</code></p><ul><li>1</li></ul>`},
		{"bad dir", `<p dir="x">a</p>`, `<p>a</p>`},
		{"table", `<table><tr><td colspan="2" width="9">c</td></tr></table>`, `<table><tr><td colspan="2">c</td></tr></table>`},
		{"comment", `a<!-- <script>x</script> -->b`, `ab`},
		// Not balanced: the console parses each message into its own
		// element, which contains whatever is left open.
		{"unclosed", `<b>bold <i>italic`, `<b>bold <i>italic`},
	}
	for _, tc := range cases {
		if got := p.Sanitize(tc.in); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestHTMLText(t *testing.T) {
	p := newHTMLPolicy()
	cases := []struct{ name, in, want string }{
		{"paragraphs", "<p>Hello &amp; <b>welcome</b></p>\n  <p>Line 2<br>Line 3</p>", "Hello & welcome\n\nLine 2\nLine 3"},
		{"list", "<p>Steps:</p><ol><li>one</li><li>two</li></ol>", "Steps:\n\n- one\n- two"},
		{"white space collapses", "a   b\n\n\tc", "a b c"},
		{"pre keeps lines", "<pre>x := 1\ny := 2</pre>", "x := 1\ny := 2"},
		{"entities", "&lt;script&gt; &quot;q&quot; &#39;s&#39; 한국어", `<script> "q" 's' 한국어`},
		{"control entity dropped", "a&#1;b&#27;c", "abc"},
		{"script text never shows", `<script>alert("x")</script>hi`, "hi"},
		{"table cells", "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"},
		{"only markup", "<p><br></p>", ""},
	}
	for _, tc := range cases {
		if got := htmlText(p.Sanitize(tc.in)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	// A derived text never holds control characters, whatever came in.
	if got := htmlText(p.Sanitize(strings.Repeat("&#7;", 10) + "x")); got != "x" {
		t.Errorf("controls: %q", got)
	}
}
