package engine

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints a record for people: a table of steps, then each step's
// output data.
func (r *Record) WriteText(w io.Writer, detail bool) {
	fmt.Fprintf(w, "%s %s  execution %s  %s", r.Kind, r.Flow, r.WorkflowID, strings.ToUpper(r.Status))
	if r.End != nil {
		fmt.Fprintf(w, " in %s", FormatDuration(r.End.Sub(r.Start)))
	}
	fmt.Fprintln(w)
	r.writeRecovery(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tKIND\tCONNECTION\tSTATUS\tHTTP\tATTEMPTS\tDURATION\tTLS")
	for _, s := range r.Steps {
		code := ""
		if s.Response != nil {
			code = fmt.Sprint(s.Response.StatusCode)
		}
		tlsInfo := ""
		if s.TLS != nil {
			tlsInfo = s.TLS.Version
			if s.TLS.ClientCertificate != nil {
				tlsInfo += " mTLS"
			}
			if s.TLS.Resumed {
				tlsInfo += ", resumed"
			} else if !s.TLS.NewConnection {
				tlsInfo += ", reused"
			}
		}
		attempts := ""
		if s.Attempts > 0 {
			attempts = fmt.Sprint(s.Attempts)
		}
		status := s.Status
		if s.CarriedFrom != "" {
			status += " (carried from " + s.CarriedFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Kind, dash(s.Connection), status, dash(code), dash(attempts),
			FormatDuration(time.Duration(s.Duration)), dash(tlsInfo))
	}
	tw.Flush()
	if n := countDropped(r.Steps); n > 0 || r.StepsDropped > 0 {
		fmt.Fprintf(w, "record limit reached: %d earlier steps removed, details of %d more dropped (oldest first)\n", r.StepsDropped, n)
	}
	if detail {
		for _, s := range r.Steps {
			if s.Request == nil && s.Error == nil && s.Outputs == nil && s.ChildExecution == "" && s.Caught == nil {
				continue
			}
			fmt.Fprintf(w, "\n── %s\n", s.ID)
			if s.Request != nil {
				fmt.Fprintf(w, "  request:  %s %s\n", s.Request.Method, s.Request.URL)
				// What was sent, as --json has it: headers (credentials
				// already redacted) and the body.
				names := make([]string, 0, len(s.Request.Headers))
				for k := range s.Request.Headers {
					names = append(names, k)
				}
				sort.Strings(names)
				for _, k := range names {
					fmt.Fprintf(w, "            %s: %s\n", k, s.Request.Headers[k])
				}
				if b := readableBody(s.Request.Body, nil); b != "" {
					fmt.Fprintf(w, "  sent:     %s\n", b)
				}
			}
			if s.CallPath != "" {
				fmt.Fprintf(w, "  ran:      %s (%s)\n", s.CallPath, s.CallPathReason)
			}
			for _, p := range s.Pages {
				code := "-"
				if p.StatusCode != 0 {
					code = fmt.Sprint(p.StatusCode)
				}
				fmt.Fprintf(w, "  page %-3d  %s  %s, %d items, %s", p.Number, dash(p.URL), code, p.Items, FormatDuration(time.Duration(p.Duration)))
				if p.Attempts > 1 {
					fmt.Fprintf(w, ", %d attempts", p.Attempts)
				}
				if p.Error != nil {
					fmt.Fprintf(w, "  %s", p.Error.Message)
				}
				fmt.Fprintln(w)
			}
			if s.Response != nil {
				fmt.Fprintf(w, "  response: %d, %d bytes", s.Response.StatusCode, s.Response.BodySize)
				if s.Response.BodyTruncated {
					fmt.Fprintf(w, " (truncated at %d)", s.Response.BodyLimit)
				}
				fmt.Fprintln(w)
				if b := readableBody(s.Response.Body, s.Response.JSON); b != "" {
					fmt.Fprintf(w, "  body:     %s\n", b)
				}
			}
			if s.TLS != nil {
				fmt.Fprintf(w, "  tls:      %s %s", s.TLS.Version, s.TLS.CipherSuite)
				if s.TLS.ClientCertificate != nil {
					fmt.Fprintf(w, ", client cert %q (expires %s)", s.TLS.ClientCertificate.Subject, s.TLS.ClientCertificate.NotAfter.Format("2006-01-02"))
					if s.TLS.ClientAuth == ClientAuthMTLSResumed {
						fmt.Fprint(w, ", presented on the full handshake this session resumed")
					}
				}
				fmt.Fprintln(w)
				for _, n := range s.TLS.Notes {
					fmt.Fprintf(w, "  note:     %s\n", n)
				}
			}
			if a := s.Auth; a != nil {
				fmt.Fprintf(w, "  auth:     %s\n", a.Summary())
			}
			// A step that failed before it sent anything has no timings
			// worth a line of zeros.
			if t := s.Timings; t != nil && (t.TotalMillis > 0 || s.Response != nil) {
				fmt.Fprintf(w, "  timings:  total %s, first byte %s, connect %s, tls %s\n",
					millis(t.TotalMillis), millis(t.FirstByteMillis), millis(t.ConnectMillis), millis(t.TLSMillis))
			}
			if s.ChildExecution != "" {
				fmt.Fprintf(w, "  child:    execution %s (outflow executions show %s)\n", s.ChildExecution, s.ChildExecution)
			}
			if s.Caught != nil {
				fmt.Fprintf(w, "  caught:   %s: %s\n", s.Caught.Type, s.Caught.Message)
			}
			if len(s.Outputs) > 0 {
				fmt.Fprintf(w, "  outputs:  %s\n", valueText(s.Outputs))
			}
			if s.Error != nil {
				fmt.Fprintf(w, "  error:    %s: %s\n", s.Error.Type, s.Error.Message)
			}
		}
	}
	if len(r.Outputs) > 0 {
		fmt.Fprintln(w, "\noutputs:")
		keys := make([]string, 0, len(r.Outputs))
		for k := range r.Outputs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, valueText(r.Outputs[k]))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "\nnote: %s\n", n)
	}
	if r.Error != nil {
		fmt.Fprintf(w, "\nerror: %s\n", r.Error.Message)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// valueText writes a value as JSON, so that the text "8" and the number 8
// look different.
func valueText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// FormatDuration writes a duration the same way wherever the CLI shows one:
// milliseconds with one decimal under a second ("64.7ms"), seconds with two
// decimals under a minute ("15.27s"), whole seconds past that ("2m05s").
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + FormatDuration(-d)
	case d == 0:
		return "0ms"
	case d < time.Second:
		return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func millis(ms float64) string {
	return FormatDuration(time.Duration(ms * float64(time.Millisecond)))
}

// bodyShown caps a body in the record's text; --json has it whole.
const bodyShown = 2000

// readableBody lays a body out for people: parsed JSON and JSON text
// indented, XML (SOAP envelopes) indented one element a line, other text as
// it is; capped at bodyShown.
func readableBody(text string, parsed any) string {
	const indent = "            "
	body := strings.TrimSpace(text)
	switch {
	case parsed != nil:
		if b, err := json.MarshalIndent(parsed, indent, "  "); err == nil {
			body = string(b)
		}
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
		var v any
		if json.Unmarshal([]byte(body), &v) == nil {
			if b, err := json.MarshalIndent(v, indent, "  "); err == nil {
				body = string(b)
			}
		}
	case strings.HasPrefix(body, "<"):
		if x, ok := indentXML(body, indent); ok {
			body = x
		}
	}
	if len(body) > bodyShown {
		body = body[:bodyShown] + "…"
	}
	return body
}

// indentXML lays XML out one element a line, each token's text as it came
// (prefixes, attributes and entities untouched), leaves with their text on
// one line. ok is false when the text is not XML; it is then shown as it is.
func indentXML(text, prefix string) (string, bool) {
	type rawToken struct {
		tok xml.Token
		raw string
	}
	dec := xml.NewDecoder(strings.NewReader(text))
	var toks []rawToken
	var open []xml.Name // RawToken does not match end tags to start tags
	for {
		from := dec.InputOffset()
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", false
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			open = append(open, tk.Name)
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != tk.Name {
				return "", false
			}
			open = open[:len(open)-1]
		}
		toks = append(toks, rawToken{xml.CopyToken(tok), text[from:dec.InputOffset()]})
	}
	if len(open) > 0 {
		return "", false
	}
	var b strings.Builder
	depth := 0
	line := func(s string) {
		if b.Len() > 0 {
			b.WriteString("\n" + prefix)
		}
		b.WriteString(strings.Repeat("  ", max(depth, 0)) + s)
	}
	endsAt := func(i int) bool {
		if i >= len(toks) {
			return false
		}
		_, ok := toks[i].tok.(xml.EndElement)
		return ok
	}
	for i := 0; i < len(toks) && b.Len() <= bodyShown; i++ {
		t := toks[i]
		switch tk := t.tok.(type) {
		case xml.StartElement:
			switch {
			case endsAt(i+1) && toks[i+1].raw == "": // <a/>
				line(t.raw)
				i++
			case endsAt(i + 1): // <a></a>
				line(t.raw + toks[i+1].raw)
				i++
			case i+2 < len(toks) && endsAt(i+2):
				if _, ok := toks[i+1].tok.(xml.CharData); ok { // <a>text</a>
					line(t.raw + toks[i+1].raw + toks[i+2].raw)
					i += 2
					continue
				}
				line(t.raw)
				depth++
			default:
				line(t.raw)
				depth++
			}
		case xml.EndElement:
			depth--
			line(t.raw)
		case xml.CharData:
			if txt := strings.TrimSpace(string(tk)); txt != "" {
				line(strings.TrimSpace(t.raw))
			}
		default: // processing instructions, comments, directives
			line(strings.TrimSpace(t.raw))
		}
	}
	return b.String(), true
}

// Summary describes the authorization in one line, for people.
func (a *AuthFacts) Summary() string {
	var b strings.Builder
	b.WriteString(a.Type)
	if a.ClientAuth != "" {
		fmt.Fprintf(&b, " (%s)", a.ClientAuth)
	}
	if a.TokenURL != "" {
		if a.TokenCached {
			fmt.Fprintf(&b, ", cached token from %s", a.TokenURL)
		} else {
			fmt.Fprintf(&b, ", new token from %s", a.TokenURL)
		}
	}
	if a.TokenExpiresAt != nil {
		fmt.Fprintf(&b, ", expires %s", a.TokenExpiresAt.UTC().Format(time.RFC3339))
	}
	if a.BoundCertificate != "" {
		fmt.Fprintf(&b, ", bound to certificate x5t#S256 %s", a.BoundCertificate)
	}
	if a.RefreshedAfter401 {
		b.WriteString(", refreshed after a 401")
	}
	return b.String()
}

func countDropped(steps []*StepRecord) int {
	n := 0
	for _, s := range steps {
		if s.Dropped {
			n++
		}
	}
	return n
}
