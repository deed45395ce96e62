package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
)

// A session idle past config.vmacore.soap.sessionTimeout is gone: /folder answers 401 to its cookie
// and API calls fault NotAuthenticated; a stream that started before is not cut; a new Login works.
func TestSessionIdleTimeout(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	if code, b := lb.control("POST", "/sessions/timeout", map[string]string{"timeout": "1s"}); code != 200 {
		t.Fatalf("timeout: %d %s", code, b)
	}
	lb.c = lb.login(lb.spec.Username, lb.spec.Password) // watched from its Login
	if res, _ := lb.folder("PUT", "datastore1", "long.bin", pattern(3<<20, 1), "cookie", nil); res == nil || res.StatusCode != 201 {
		t.Fatalf("fresh session: %v", res)
	}
	// A long stream that starts while the session is live runs to its end.
	if code, b := lb.control("POST", "/faults", map[string]any{"kind": "bandwidth", "method": "GET", "path": "long.bin", "bytesPerSec": 1 << 20}); code != 201 {
		t.Fatalf("fault: %d %s", code, b)
	}
	res, body := lb.folder("GET", "datastore1", "long.bin", nil, "cookie", nil)
	if res == nil || res.StatusCode != 200 || len(body) != 3<<20 {
		t.Fatalf("stream across the expiry: %v, %d bytes", res, len(body))
	}
	// The session idled through the 3 s stream: the next request and the next API call are refused.
	if res, _ := lb.folder("GET", "datastore1", "long.bin", nil, "cookie", nil); res == nil || res.StatusCode != 401 {
		t.Fatalf("expired session on /folder: %v", res)
	}
	_, err := find.NewFinder(lb.c.Client, true).DefaultDatacenter(context.Background())
	if err == nil || !strings.Contains(err.Error(), "NotAuthenticated") {
		t.Fatalf("expired session on the API: %v", err)

	}
	lb.c = lb.login(lb.spec.Username, lb.spec.Password)
	if res, _ := lb.folder("GET", "datastore1", "long.bin", nil, "cookie", nil); res == nil || res.StatusCode != 200 {
		t.Fatalf("after a new Login: %v", res)
	}
	_, b := lb.control("GET", "/sessions", nil)
	var s struct {
		Logins  int64 `json:"logins"`
		Refused int64 `json:"refusedFolderRequests"`
	}
	_ = json.Unmarshal(b, &s)
	if s.Logins != 3 || s.Refused != 1 {
		t.Fatalf("session counts: %s", b)
	}
}

// An http-reset rule on PUT cuts the connection after `afterBytes` of the request body: the client's
// upload fails and the file holds at most those bytes.
func TestPutResetInTheBody(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	if code, b := lb.control("POST", "/faults", map[string]any{"kind": "http-reset", "method": "PUT", "path": "cut.bin", "afterBytes": 1 << 20, "count": 1}); code != 201 {
		t.Fatalf("fault: %d %s", code, b)
	}
	res, _ := lb.folder("PUT", "datastore1", "cut.bin", pattern(8<<20, 3), "cookie", nil)
	if res != nil {
		t.Fatalf("PUT through a reset answered %d", res.StatusCode)
	}
	if fi, err := os.Stat(lb.local("datastore1", "cut.bin")); err == nil && fi.Size() > 1<<20 {
		t.Fatalf("the cut PUT wrote %d bytes", fi.Size())
	}
	// The rule was used up: the same PUT now completes.
	if res, _ := lb.folder("PUT", "datastore1", "cut.bin", pattern(8<<20, 3), "cookie", nil); res == nil || res.StatusCode != 201 && res.StatusCode != 200 {
		t.Fatalf("PUT after the reset: %v", res)
	}
	// Every byte the PUTs wrote is counted: the cut one's (at most 1 MiB) and the whole file.
	_, b := lb.control("GET", "/puts", nil)
	var puts map[string]int64
	_ = json.Unmarshal(b, &puts)
	if n := puts["[datastore1] cut.bin"]; n < 8<<20 || n > 9<<20 {
		t.Fatalf("PUT bytes of cut.bin: %s", b)
	}
}

// Another writer fills the datastore while a PUT streams: the PUT fails with "no space left on device"
// after the bytes that fit, and they stay; removing the other writer's files gives the space back.
func TestDatastoreFillsDuringPut(t *testing.T) {
	lb := startLab(t, baseSpec(t.TempDir(), "esx"))
	pr, pw := io.Pipe()
	dc := url.QueryEscape("ha-datacenter")
	req, _ := http.NewRequest("PUT", strings.TrimSuffix(lb.l.URL, "/sdk")+"/folder/big.bin?dcPath="+dc+"&dsName=datastore1", pr)
	req.ContentLength = 64 << 20
	req.SetBasicAuth(lb.spec.Username, lb.spec.Password)
	answered := make(chan *http.Response, 1)
	go func() {
		res, _ := lb.http.Do(req)
		answered <- res
	}()
	chunk := pattern(1<<20, 5)
	for i := 0; i < 8; i++ {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	_, b := lb.control("GET", "/datastores/free", nil)
	var free map[string]int64
	_ = json.Unmarshal(b, &free)
	// Leave 20 MiB: the other 56 MiB of the PUT do not fit.
	code, fb := lb.control("POST", "/datastores/fill", map[string]any{"datastore": "datastore1", "bytes": free["datastore1"] - 20<<20})
	if code != 200 {
		t.Fatalf("fill: %d %s", code, fb)
	}
	time.Sleep(200 * time.Millisecond)
	go func() {
		for i := 0; i < 56; i++ {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
		pw.Close()
	}()
	res := <-answered
	if res == nil {
		t.Fatal("no answer")
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 500 || !strings.Contains(string(body), "no space left on device") {
		t.Fatalf("PUT on a full datastore: %d %s", res.StatusCode, body)
	}
	fi, err := os.Stat(lb.local("datastore1", "big.bin"))
	if err != nil || fi.Size() < 8<<20 || fi.Size() > 30<<20 {
		t.Fatalf("partial file: %v %v", fi, err)
	}
	// The next PUT of the whole file is refused before any byte (507, as before).
	if res, _ := lb.folder("PUT", "datastore1", "big.bin", pattern(64<<20, 5), "basic", nil); res == nil || res.StatusCode != 507 {
		t.Fatalf("PUT that does not fit: %v", res)
	}
	lb.control("DELETE", "/datastores/fill", nil)
	if res, _ := lb.folder("PUT", "datastore1", "big.bin", pattern(64<<20, 5), "basic", nil); res == nil || res.StatusCode != 200 && res.StatusCode != 201 {
		t.Fatalf("PUT once the other writer's files are gone: %v", res)
	}
}
