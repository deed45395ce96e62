package main

import (
	"net/http"
	"sync"
)

// streamGauge counts the /folder streams (GET, PUT, HEAD) through each host that are in the host's
// hands: waiting for one of its maxFolderStreams slots or moving bytes. That is the demand a client
// put on the host, which the host's own cap does not bound (the next stream waits, as NFC does), so
// it shows whether a client kept to a limit of its own. max is the most at once since the last reset.
type streamGauge struct {
	mu  sync.Mutex
	now map[string]int
	max map[string]int
}

func newStreamGauge() *streamGauge {
	return &streamGauge{now: map[string]int{}, max: map[string]int{}}
}

// enter counts a stream through host until the returned func is called.
func (g *streamGauge) enter(host string) func() {
	g.mu.Lock()
	g.now[host]++
	if g.now[host] > g.max[host] {
		g.max[host] = g.now[host]
	}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.now[host]--
		g.mu.Unlock()
	}
}

type streamCount struct {
	Now int `json:"now"`
	Max int `json:"max"`
}

// snapshot is {host: {now, max}} for every host a stream went through.
func (g *streamGauge) snapshot() map[string]streamCount {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]streamCount{}
	for h, m := range g.max {
		out[h] = streamCount{Now: g.now[h], Max: m}
	}
	return out
}

// reset starts the maxima again from the streams in flight now.
func (g *streamGauge) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for h := range g.max {
		g.max[h] = g.now[h]
	}
}

// serveStreams answers GET /quickmig/streams and DELETE /quickmig/streams (reset the maxima).
func (l *Launcher) serveStreams(w http.ResponseWriter, route string) bool {
	switch route {
	case "GET /streams":
		writeJSON(w, 200, l.rates.demand.snapshot())
	case "DELETE /streams":
		l.rates.demand.reset()
		writeJSON(w, 200, map[string]bool{"ok": true})
	default:
		return false
	}
	return true
}
