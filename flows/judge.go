package flows

// checkJudge checks fail_when and retry_when: they belong to steps that
// call a partner, and read `response` (nothing of the flow: they run in the
// activity, on the worker, where only the response is at hand).
func (c *checker) checkJudge(s *stepCheck, call *stepKind, given []*stepKind) {
	doc, sp, st := s.b.doc, s.path, s.st
	for _, f := range []struct {
		key  string
		cond Condition
	}{{"fail_when", st.FailWhen}, {"retry_when", st.RetryWhen}} {
		if f.cond == "" {
			continue
		}
		p := sp + "." + f.key
		if call == nil && len(given) == 1 {
			c.errorf(doc, doc.keyPos(p), p, "%s judges the response of %s calls only; remove it from this %s step", f.key, wordList(kindNames(true), "and"), given[0].name)
			continue
		}
		if st.Rest != nil && st.Rest.Paginate != nil {
			c.errorf(doc, doc.keyPos(p), p, "%s does not apply to a paginated step; use paginate.stop_when or a step after it", f.key)
			continue
		}
		env := &exprEnv{b: s.b, stepPath: p, visible: map[string]string{}, bound: boundNames{"response"},
			boundOnly: f.key + " runs in the call's activity, where only response is at hand"}
		c.checkString(doc, p, string(f.cond), env)
	}
}
