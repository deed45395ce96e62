package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// outage takes the endpoint's vSphere service (SOAP and /folder) away for a while, as a host that
// drops off the network or whose management agent restarts: every connection is reset, new ones
// are reset as soon as they send a request, and nothing of the host's state changes (VMs keep
// their power state, snapshots and files; sessions survive, as they do across a network cut).
// The control API stays reachable so a test can end the outage early and read the call log.
type outage struct {
	until atomic.Int64 // unix nanoseconds; 0 or past: up
	mu    sync.Mutex
	conns map[net.Conn]struct{} // open connections (ConnState), to cut them when the outage starts
	armed *outageTrigger        // an outage that starts with the first request matching it
}

// outageTrigger arms an outage: it starts when a request matches (method = HTTP method or SOAP
// method name, path = substring of the URL path, as the fault rules match), and that request is
// the first one reset. A test can so take a host away at an exact point of a migration (the
// first GET of a suspend state file: "right after the VM was suspended").
type outageTrigger struct {
	Method  string  `json:"method"`
	Path    string  `json:"path"`
	Seconds float64 `json:"seconds"`
}

// fire starts the armed outage when the request matches it; true when the request must be refused.
func (o *outage) fire(r *http.Request, soapMethod string) bool {
	o.mu.Lock()
	t := o.armed
	if t == nil || (t.Path != "" && !strings.Contains(r.URL.Path, t.Path)) ||
		(t.Method != "" && t.Method != r.Method && t.Method != soapMethod) {
		o.mu.Unlock()
		return false
	}
	o.armed = nil
	o.mu.Unlock()
	o.start(time.Duration(t.Seconds*float64(time.Second)), nil)
	return true
}

type connKey struct{}

// track is the http.Server's ConnState hook.
func (o *outage) track(c net.Conn, state http.ConnState) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.conns == nil {
		o.conns = map[net.Conn]struct{}{}
	}
	switch state {
	case http.StateNew:
		o.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(o.conns, c)
	}
}

// connContext is the http.Server's ConnContext hook: a request knows its connection.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (o *outage) down() bool {
	u := o.until.Load()
	return u != 0 && time.Now().UnixNano() < u
}

// start begins an outage of d and resets every open connection except `keep` (the control
// request that asked for it, which still gets its answer).
func (o *outage) start(d time.Duration, keep net.Conn) time.Time {
	until := time.Now().Add(d)
	o.until.Store(until.UnixNano())
	o.mu.Lock()
	var cut []net.Conn
	for c := range o.conns {
		if c != keep {
			cut = append(cut, c)
		}
	}
	o.mu.Unlock()
	for _, c := range cut {
		resetConn(c)
	}
	return until
}

func (o *outage) end() { o.until.Store(0) }

// resetConn closes a connection with an RST (SO_LINGER 0), as a vanished peer's network stack
// answers: the client sees ECONNRESET, not an orderly end of the response.
func resetConn(c net.Conn) {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = c.Close()
}

// refuse resets the connection of a request that arrived during an outage.
func refuse(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			resetConn(conn)
			return
		}
	}
	http.Error(w, "host unreachable", http.StatusServiceUnavailable)
}

// serveOutage answers the control API's /outage routes; false when the route is not one of them.
func (l *Launcher) serveOutage(w http.ResponseWriter, r *http.Request, route string) bool {
	switch route {
	case "POST /outage":
		var req struct {
			Seconds float64        `json:"seconds"`
			When    *outageTrigger `json:"when"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Seconds <= 0 {
			writeJSON(w, 400, map[string]string{"error": "outage needs seconds > 0"})
			return true
		}
		if req.When != nil {
			req.When.Seconds = req.Seconds
			l.outage.mu.Lock()
			l.outage.armed = req.When
			l.outage.mu.Unlock()
			writeJSON(w, 200, map[string]any{"down": false, "armed": req.When})
			return true
		}
		keep, _ := r.Context().Value(connKey{}).(net.Conn)
		until := l.outage.start(time.Duration(req.Seconds*float64(time.Second)), keep)
		l.logf("outage: vSphere service unreachable until %s", until.Format(time.RFC3339Nano))
		writeJSON(w, 200, map[string]any{"down": true, "until": until.Format(time.RFC3339Nano)})
	case "DELETE /outage":
		l.outage.mu.Lock()
		l.outage.armed = nil
		l.outage.mu.Unlock()
		l.outage.end()
		l.logf("outage: ended")
		writeJSON(w, 200, map[string]bool{"down": false})
	case "GET /outage":
		writeJSON(w, 200, map[string]bool{"down": l.outage.down()})
	default:
		return false
	}
	return true
}

// isControl says whether a request is for the control API (never taken away by an outage).
func isControl(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/quickmig/") }
