package main

import "testing"

func TestStreamGaugeCountsDemandAndResets(t *testing.T) {
	g := newStreamGauge()
	a1 := g.enter("esx-a")
	a2 := g.enter("esx-a")
	b1 := g.enter("esx-b")
	a3 := g.enter("esx-a")
	a1()
	a2()
	if got := g.snapshot()["esx-a"]; got != (streamCount{Now: 1, Max: 3}) {
		t.Fatalf("esx-a: got %+v, want now 1 max 3", got)
	}
	b1()
	g.reset()
	if got := g.snapshot(); got["esx-a"] != (streamCount{Now: 1, Max: 1}) || got["esx-b"] != (streamCount{Now: 0, Max: 0}) {
		t.Fatalf("after reset: got %+v", got)
	}
	a3()
	if got := g.snapshot()["esx-a"]; got.Now != 0 || got.Max != 1 {
		t.Fatalf("esx-a after all ended: got %+v", got)
	}
}
