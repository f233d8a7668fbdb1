package partner

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// Pages is a partner's order list served in pages, once in each style a
// REST step's paginate reads, under /v2/pages/:
//
//	GET /v2/pages/link?page=N&per_page=P      Link header, rel="next" (absolute URL)
//	GET /v2/pages/body?page=N&per_page=P      {"data": [...], "links": {"next": "/v2/pages/body?page=N+1"}}
//	GET /v2/pages/cursor?cursor=C&limit=L     {"items": [...], "meta": {"next_cursor": "..."}}
//	GET /v2/pages/number?page=N&per_page=P    {"results": [...], "page": N}
//	GET /v2/pages/offset?offset=O&limit=L     {"orders": [...], "total": T}
//	GET /v2/pages/elsewhere                   a Link header to another host
//	GET /v2/pages/loop                        a next link to the same page, forever
//	POST /v2/pages/seen                       {"ids": [...]}: records the ids (see Seen)
//
// Every list holds orders {"id": 1} to {"id": Total}. A query parameter
// fail=N makes page N answer 422 with a message; hold=N makes page N wait
// until Release is called (or the client goes away).
type Pages struct {
	// Total is the number of orders; 0 means 25.
	Total int

	mu       sync.Mutex
	seen     []int
	requests map[string]int
	held     map[string]int
	release  chan struct{}
}

// Requests returns how many times page n of a style was requested.
func (p *Pages) Requests(style string, n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests[style+"/"+strconv.Itoa(n)]
}

// Held returns how many requests for page n of a style have waited at hold.
func (p *Pages) Held(style string, n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held[style+"/"+strconv.Itoa(n)]
}

// Seen returns the ids posted to /v2/pages/seen, in the order they came.
func (p *Pages) Seen() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.seen...)
}

// Release lets held pages, and pages requested later, answer.
func (p *Pages) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.init()
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

func (p *Pages) init() {
	if p.requests == nil {
		p.requests, p.held, p.release = map[string]int{}, map[string]int{}, make(chan struct{})
	}
}

func (p *Pages) total() int {
	if p.Total == 0 {
		return 25
	}
	return p.Total
}

func (p *Pages) orders(from, n int) []any {
	out := []any{}
	for i := from; i < from+n && i < p.total(); i++ {
		out = append(out, map[string]any{"id": i + 1})
	}
	return out
}

// arrive counts a request for page n and answers false when the request
// failed or was held until the client went away.
func (p *Pages) arrive(w http.ResponseWriter, r *http.Request, style string, n int) bool {
	key := style + "/" + strconv.Itoa(n)
	p.mu.Lock()
	p.init()
	p.requests[key]++
	release := p.release
	hold := r.URL.Query().Get("hold") == strconv.Itoa(n)
	if hold {
		p.held[key]++
	}
	p.mu.Unlock()
	if hold {
		select {
		case <-release:
		case <-r.Context().Done():
			return false
		}
	}
	if r.URL.Query().Get("fail") == strconv.Itoa(n) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": fmt.Sprintf("page %d of the order list is locked by a reindex", n)})
		return false
	}
	return true
}

func intParam(q url.Values, name string, def int) int {
	if n, err := strconv.Atoi(q.Get(name)); err == nil && n >= 0 {
		return n
	}
	return def
}

// Handler serves the paged lists.
func (p *Pages) Handler() http.Handler {
	mux := http.NewServeMux()
	numbered := func(r *http.Request) (page, size int) {
		q := r.URL.Query()
		return max(intParam(q, "page", 1), 1), max(intParam(q, "per_page", 10), 1)
	}
	next := func(r *http.Request, page int, absolute bool) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		if absolute {
			u.Scheme, u.Host = "https", r.Host
		}
		return u.String()
	}
	mux.HandleFunc("GET /v2/pages/link", func(w http.ResponseWriter, r *http.Request) {
		page, size := numbered(r)
		if !p.arrive(w, r, "link", page) {
			return
		}
		links := fmt.Sprintf(`<%s>; rel="first"`, next(r, 1, true))
		if page*size < p.total() {
			links += fmt.Sprintf(`, <%s>; rel="next"`, next(r, page+1, true))
		}
		w.Header().Set("Link", links)
		writeJSON(w, http.StatusOK, map[string]any{"data": p.orders((page-1)*size, size)})
	})
	mux.HandleFunc("GET /v2/pages/body", func(w http.ResponseWriter, r *http.Request) {
		page, size := numbered(r)
		if !p.arrive(w, r, "body", page) {
			return
		}
		var nextLink any
		if page*size < p.total() {
			nextLink = next(r, page+1, false)
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": p.orders((page-1)*size, size), "links": map[string]any{"next": nextLink}})
	})
	mux.HandleFunc("GET /v2/pages/cursor", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := max(intParam(q, "limit", 10), 1)
		from := 0
		if c := q.Get("cursor"); c != "" {
			var err error
			if _, err = fmt.Sscanf(c, "after-%d", &from); err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"message": "invalid cursor " + strconv.Quote(c)})
				return
			}
		}
		if !p.arrive(w, r, "cursor", from/limit+1) {
			return
		}
		nextCursor := ""
		if from+limit < p.total() {
			nextCursor = fmt.Sprintf("after-%d", from+limit)
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": p.orders(from, limit), "meta": map[string]any{"next_cursor": nextCursor}})
	})
	mux.HandleFunc("GET /v2/pages/number", func(w http.ResponseWriter, r *http.Request) {
		page, size := numbered(r)
		if !p.arrive(w, r, "number", page) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"results": p.orders((page-1)*size, size), "page": page})
	})
	mux.HandleFunc("GET /v2/pages/offset", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		offset, limit := intParam(q, "offset", 0), max(intParam(q, "limit", 10), 1)
		if !p.arrive(w, r, "offset", offset/limit+1) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"orders": p.orders(offset, limit), "total": p.total()})
	})
	mux.HandleFunc("GET /v2/pages/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		if !p.arrive(w, r, "elsewhere", 1) {
			return
		}
		w.Header().Set("Link", `<https://collector.example/v2/pages/link?page=2>; rel="next"`)
		writeJSON(w, http.StatusOK, map[string]any{"data": p.orders(0, 10)})
	})
	mux.HandleFunc("GET /v2/pages/loop", func(w http.ResponseWriter, r *http.Request) {
		if !p.arrive(w, r, "loop", 1) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": p.orders(0, 2), "next": "/v2/pages/loop"})
	})
	mux.HandleFunc("POST /v2/pages/seen", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			IDs []int `json:"ids"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"message": "body must be {\"ids\": [numbers]}: " + err.Error()})
			return
		}
		p.mu.Lock()
		p.seen = append(p.seen, body.IDs...)
		p.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"seen": len(body.IDs)})
	})
	return mux
}
