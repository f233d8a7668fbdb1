package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText prints a record for people: a table of steps, then each step's
// output data.
func (r *Record) WriteText(w io.Writer, detail bool) {
	fmt.Fprintf(w, "%s %s  execution %s  %s", r.Kind, r.Flow, r.WorkflowID, strings.ToUpper(r.Status))
	if r.End != nil {
		fmt.Fprintf(w, " in %s", r.End.Sub(r.Start).Round(time.Millisecond))
	}
	fmt.Fprintln(w)
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
				tlsInfo += " resumed"
			} else if !s.TLS.NewConnection {
				tlsInfo += " reused"
			}
		}
		attempts := ""
		if s.Attempts > 0 {
			attempts = fmt.Sprint(s.Attempts)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Kind, dash(s.Connection), s.Status, dash(code), dash(attempts),
			time.Duration(s.Duration).Round(100*time.Microsecond), dash(tlsInfo))
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
			}
			for _, p := range s.Pages {
				code := "-"
				if p.StatusCode != 0 {
					code = fmt.Sprint(p.StatusCode)
				}
				fmt.Fprintf(w, "  page %-3d  %s  %s, %d items, %s", p.Number, dash(p.URL), code, p.Items, time.Duration(p.Duration).Round(100*time.Microsecond))
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
				body := s.Response.Body
				if s.Response.JSON != nil {
					b, _ := json.MarshalIndent(s.Response.JSON, "            ", "  ")
					body = string(b)
				}
				if len(body) > 2000 {
					body = body[:2000] + "…"
				}
				if body != "" {
					fmt.Fprintf(w, "  body:     %s\n", strings.TrimSpace(body))
				}
			}
			if s.TLS != nil {
				fmt.Fprintf(w, "  tls:      %s %s", s.TLS.Version, s.TLS.CipherSuite)
				if s.TLS.ClientCertificate != nil {
					fmt.Fprintf(w, ", client cert %q (expires %s)", s.TLS.ClientCertificate.Subject, s.TLS.ClientCertificate.NotAfter.Format("2006-01-02"))
				}
				fmt.Fprintln(w)
				for _, n := range s.TLS.Notes {
					fmt.Fprintf(w, "  note:     %s\n", n)
				}
			}
			if a := s.Auth; a != nil {
				fmt.Fprintf(w, "  auth:     %s\n", a.Summary())
			}
			if s.Timings != nil {
				fmt.Fprintf(w, "  timings:  total %.1f ms, first byte %.1f ms, connect %.1f ms, tls %.1f ms\n",
					s.Timings.TotalMillis, s.Timings.FirstByteMillis, s.Timings.ConnectMillis, s.Timings.TLSMillis)
			}
			if s.ChildExecution != "" {
				fmt.Fprintf(w, "  child:    execution %s (outflow executions show %s)\n", s.ChildExecution, s.ChildExecution)
			}
			if s.Caught != nil {
				fmt.Fprintf(w, "  caught:   %s: %s\n", s.Caught.Type, s.Caught.Message)
			}
			if len(s.Outputs) > 0 {
				fmt.Fprintf(w, "  outputs:  %s\n", compactJSON(s.Outputs))
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
			fmt.Fprintf(w, "  %s: %s\n", k, compactJSON(r.Outputs[k]))
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

func compactJSON(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
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
