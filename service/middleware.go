package service

import (
	"crypto/subtle"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Hosts is the allow-list of Host header values (names or addresses, without the port).
type Hosts struct {
	names map[string]bool
	any   bool // the server listens on every address
}

// loopbackNames are the names of a loopback server.
var loopbackNames = []string{"localhost", "127.0.0.1", "::1"}

// NewHosts is the allow-list of a server listening on addr (host:port): its host, the loopback
// names too for a loopback address, and the extra names. A server on every address (0.0.0.0, ::)
// cannot know the names it is reached by (a container's, a proxy's): it takes any, and it always has
// a token, which a page of another site cannot send.
func NewHosts(addr string, extra []string) (Hosts, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return Hosts{}, fmt.Errorf("--addr: %w", err)
	}
	h := Hosts{names: map[string]bool{}}
	add := func(names ...string) {
		for _, n := range names {
			h.names[strings.ToLower(strings.TrimSuffix(n, "."))] = true
		}
	}
	add(host)
	add(extra...)
	ip := net.ParseIP(host)
	switch {
	case host == "" || ip != nil && ip.IsUnspecified():
		h.any = true
	case IsLoopback(host):
		add(loopbackNames...)
	}
	return h, nil
}

// IsLoopback tells whether host names a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Allows tells whether a request's Host header names this server.
func (h Hosts) Allows(hostHeader string) bool {
	host := hostHeader
	if hp, _, err := net.SplitHostPort(hostHeader); err == nil {
		host = hp
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	return h.any || h.names[host]
}

func (a *api) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.cfg.Hosts.Allows(r.Host) {
			writeJSON(w, http.StatusMisdirectedRequest, errorBody(fmt.Sprintf("Host %.80q is not a name of this server (serve --allow-host adds one)", r.Host)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// formTypes are the content types an HTML form (or a cross-origin fetch without a CORS preflight)
// can send: never what a state-changing request of this API carries.
var formTypes = []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}

// mediaType is the request's Content-Type without parameters, lower case ("" when absent).
func mediaType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		return mt
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// refuseFormContent answers 415 to a state-changing request with a form's content type.
func refuseFormContent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions {
			for _, t := range formTypes {
				if strings.HasPrefix(mediaType(r), t) {
					writeJSON(w, http.StatusUnsupportedMediaType, errorBody(fmt.Sprintf("Content-Type %s: a form's content type is refused on state-changing requests", t)))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are on every answer: no content sniffing, no framing, and a page that runs its own
// script file only.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
			"img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}

// authorize demands the bearer token, when there is one, of every request but the public paths'.
func (a *api) authorize(public map[string]bool, next http.Handler) http.Handler {
	if a.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + a.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if !public[r.URL.Path] && subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tfsweep"`)
			writeJSON(w, http.StatusUnauthorized, errorBody("missing or wrong bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recorder keeps the status a handler answered, for the log and the metrics.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (to flush event streams).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe logs every request and counts it in the metrics, by the mux's route pattern (never by raw
// path, so that the metrics' series stay bounded), refused ones before they reached it too.
func (a *api) observe(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		route := r.Pattern
		if route == "" {
			_, route = mux.Handler(r)
		}
		if route == "" {
			route = "unmatched"
		}
		elapsed := time.Since(start)
		a.s.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		a.s.latency.WithLabelValues(route).Observe(elapsed.Seconds())
		a.cfg.Log.Info().Str("method", r.Method).Str("route", route).Int("status", rec.status).Int("bytes", rec.bytes).
			Dur("duration", elapsed).Str("remote", r.RemoteAddr).Msg("request")
	})
}
