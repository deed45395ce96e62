package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"math/rand"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// --- call log ----------------------------------------------------------------------

type callEntry struct {
	Seq    int64   `json:"seq"`
	Time   string  `json:"time"`
	Method string  `json:"method"`
	Object string  `json:"object"`
	OK     bool    `json:"ok"`
	Fault  *string `json:"fault"`
}

type callLog struct {
	mu      sync.Mutex
	seq     int64
	entries []callEntry
}

func (c *callLog) add(method, object string, ok bool, fault string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	e := callEntry{Seq: c.seq, Time: time.Now().UTC().Format(time.RFC3339Nano), Method: method, Object: object, OK: ok}
	if fault != "" {
		e.Fault = &fault
	}
	c.entries = append(c.entries, e)
}

func (c *callLog) since(seq int64) []callEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []callEntry{}
	for _, e := range c.entries {
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out
}

// mutating reports whether a SOAP method changes state (read-only methods are not logged).
func mutating(method string) bool {
	for _, p := range []string{"Retrieve", "ContinueRetrieve", "WaitForUpdates", "Find", "Query", "Check", "SearchDatastore", "HasPrivilege", "HasUserPrivilege", "FetchUserPrivilege"} {
		if strings.HasPrefix(method, p) {
			return false
		}
	}
	switch method {
	case "CreateContainerView", "DestroyView", "Login", "Logout", "SessionIsActive", "CurrentTime", "CreateFilter", "DestroyPropertyFilter",
		"CancelWaitForUpdates", "CreatePropertyCollector", "DestroyPropertyCollector":
		return false
	}
	return true
}

// --- fault rules ---------------------------------------------------------------------

type faultRule struct {
	ID          int     `json:"id"`
	Kind        string  `json:"kind"`
	Method      string  `json:"method,omitempty"`
	Object      string  `json:"object,omitempty"`
	Fault       string  `json:"fault,omitempty"`
	Count       int     `json:"count,omitempty"`
	Probability float64 `json:"probability,omitempty"`
	Seed        int64   `json:"seed,omitempty"`
	Path        string  `json:"path,omitempty"`
	AfterBytes  int64   `json:"afterBytes,omitempty"`
	Status      int     `json:"status,omitempty"`
	MS          int     `json:"ms,omitempty"`
	BytesPerSec int64   `json:"bytesPerSec,omitempty"`
	// question rules: the VM (name or moref; empty = any) whose next power-on/resume asks
	// messageId/text with the given choice labels (keys "0", "1", …; a label containing
	// "cancel" or "abort" fails the power task when chosen, any other lets it go on).
	VM        string   `json:"vm,omitempty"`
	MessageID string   `json:"messageId,omitempty"`
	Text      string   `json:"text,omitempty"`
	Choices   []string `json:"choices,omitempty"`
	Fired     int      `json:"fired"`
	rng       *rand.Rand
}

type faultRules struct {
	mu    sync.Mutex
	next  int
	rules []*faultRule
}

func (f *faultRules) add(r *faultRule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	r.ID = f.next
	r.rng = rand.New(rand.NewSource(r.Seed))
	f.rules = append(f.rules, r)
}

// take returns the first matching rule of kind and counts it as fired.
func (f *faultRules) take(kind string, match func(*faultRule) bool) *faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.Kind != kind || (r.Count > 0 && r.Fired >= r.Count) || !match(r) {
			continue
		}
		if r.Probability > 0 && r.Probability < 1 && r.rng.Float64() >= r.Probability {
			continue
		}
		r.Fired++
		return r
	}
	return nil
}

// soapFault builds the fault of a matching soap rule (any vim25 fault type by name).
func (f *faultRules) soapFault(method string, this types.ManagedObjectReference) types.BaseMethodFault {
	r := f.take("soap", func(r *faultRule) bool {
		return r.Method == method && (r.Object == "" || r.Object == this.Value)
	})
	if r == nil {
		return nil
	}
	return newFault(r.Fault, this)
}

func newFault(name string, this types.ManagedObjectReference) types.BaseMethodFault {
	if t, ok := types.TypeFunc()(name); ok {
		if mf, ok := reflect.New(t).Interface().(types.BaseMethodFault); ok {
			switch x := mf.(type) {
			case *types.NotAuthenticated:
				x.Object = &this
				x.PrivilegeId = "System.View"
			case *types.NoPermission:
				x.Object = &this
				x.PrivilegeId = "System.Modify"
			case *types.ManagedObjectNotFound:
				x.Obj = this
			}
			return mf
		}
	}
	return &types.SystemError{Reason: "injected fault " + name}
}

// questionInfo is the VM question a question rule raises.
func (r *faultRule) questionInfo(id string) types.VirtualMachineQuestionInfo {
	var choices []types.BaseElementDescription
	for i, c := range r.Choices {
		choices = append(choices, &types.ElementDescription{Description: types.Description{Label: c, Summary: c}, Key: strconv.Itoa(i)})
	}
	text := r.Text
	if text == "" {
		text = r.MessageID
	}
	return types.VirtualMachineQuestionInfo{
		Id: id, Text: r.MessageID + ":" + text,
		Choice:  types.ChoiceOption{OptionType: types.OptionType{ValueIsReadonly: types.NewBool(false)}, ChoiceInfo: choices},
		Message: []types.VirtualMachineMessage{{Id: r.MessageID, Text: text}},
	}
}

func (f *faultRules) list() []*faultRule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*faultRule{}, f.rules...)
}

func (f *faultRules) clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// --- HTTP routing ----------------------------------------------------------------------

// routes wraps the simulator's mux: control API, /folder, SOAP call log, HTTP fault rules.
func (l *Launcher) routes(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isControl(r) {
			l.serveControl(w, r)
			return
		}
		if l.outage.down() {
			refuse(w)
			return
		}
		soapMethod, soapThis := "", ""
		var body []byte
		if strings.HasPrefix(r.URL.Path, "/sdk") && r.Method == http.MethodPost {
			body, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			soapMethod, soapThis = parseSOAPCall(body)
		}
		if l.outage.fire(r, soapMethod) {
			l.logf("outage: started by %s %s%s", r.Method, r.URL.Path, soapMethod)
			refuse(w)
			return
		}
		match := func(fr *faultRule) bool {
			if fr.Path != "" && !strings.Contains(r.URL.Path, fr.Path) {
				return false
			}
			return fr.Method == "" || fr.Method == r.Method || (soapMethod != "" && fr.Method == soapMethod)
		}
		if fr := l.faults.take("latency", match); fr != nil {
			time.Sleep(time.Duration(fr.MS) * time.Millisecond)
		}
		if fr := l.faults.take("http-status", match); fr != nil {
			http.Error(w, http.StatusText(fr.Status), fr.Status)
			return
		}
		if fr := l.faults.take("http-reset", match); fr != nil && r.Method == http.MethodPut {
			r.Body = resetBody(w, r.Body, fr.AfterBytes) // realfaults.go: cut in the request's body
		} else if fr != nil {
			w = &resetWriter{ResponseWriter: w, after: fr.AfterBytes}
		}
		if fr := l.faults.take("bandwidth", match); fr != nil && fr.BytesPerSec > 0 {
			w = &throttleWriter{ResponseWriter: w, rate: fr.BytesPerSec, start: time.Now()}
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/folder"):
			l.serveFolder(w, r, mux)
		case soapMethod != "":
			rec := &recordWriter{ResponseWriter: w, status: 200}
			mux.ServeHTTP(rec, r)
			l.afterSOAP(r, rec, soapMethod, soapThis, body)
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

func parseSOAPCall(body []byte) (method, this string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	inBody, depth := false, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if t.Name.Local == "Body" {
				inBody = true
				depth = 0
				continue
			}
			if inBody && depth == 1 {
				method = t.Name.Local
			}
			if inBody && depth == 2 && t.Name.Local == "_this" {
				var s string
				_ = d.DecodeElement(&s, &t)
				depth--
				this = strings.TrimSpace(s)
				return
			}
		case xml.EndElement:
			depth--
		}
	}
}

type recordWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *recordWriter) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }
func (w *recordWriter) Write(b []byte) (int, error) {
	if w.status != 200 && w.buf.Len() < 1<<16 {
		w.buf.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// afterSOAP logs mutating calls and tracks session cookies for /folder authentication.
func (l *Launcher) afterSOAP(r *http.Request, rec *recordWriter, method, this string, body []byte) {
	l.noteSOAP(r, rec, method) // realfaults.go: session idle timeout, login count
	switch method {
	case "Login":
		if rec.status == 200 {
			for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
				if c.Name == soap.SessionCookieName {
					l.sessions.Store(c.Value, loginUser(body))
				}
			}
		}
	case "Logout":
		if c, err := r.Cookie(soap.SessionCookieName); err == nil {
			l.sessions.Delete(c.Value)
		}
	}
	if !mutating(method) {
		return
	}
	fault := ""
	if rec.status != 200 {
		fault = faultName(rec.buf.Bytes())
	}
	l.calls.add(method, this, rec.status == 200, fault)
}

// loginUser is the userName of a Login request body.
func loginUser(body []byte) string {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "userName" {
			var s string
			_ = d.DecodeElement(&s, &t)
			return strings.TrimSpace(s)
		}
	}
}

// faultName extracts the fault type from a SOAP fault response.
func faultName(b []byte) string {
	d := xml.NewDecoder(bytes.NewReader(b))
	inDetail := false
	for {
		tok, err := d.Token()
		if err != nil {
			return "SystemError"
		}
		if t, ok := tok.(xml.StartElement); ok {
			if t.Name.Local == "detail" {
				inDetail = true
				continue
			}
			if inDetail {
				for _, a := range t.Attr {
					if a.Name.Local == "type" {
						return a.Value[strings.LastIndex(a.Value, ":")+1:]
					}
				}
				return strings.TrimSuffix(t.Name.Local, "Fault")
			}
		}
	}
}

// resetWriter resets the connection after `after` body bytes.
type resetWriter struct {
	http.ResponseWriter
	after   int64
	written int64
}

func (w *resetWriter) Write(b []byte) (int, error) {
	if w.written+int64(len(b)) <= w.after {
		n, err := w.ResponseWriter.Write(b)
		w.written += int64(n)
		return n, err
	}
	n := int(w.after - w.written)
	if n > 0 {
		_, _ = w.ResponseWriter.Write(b[:n])
	}
	w.written = w.after
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		if conn, buf, err := hj.Hijack(); err == nil {
			_ = buf.Flush()
			if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
				if tcp, ok := tc.NetConn().(*net.TCPConn); ok {
					_ = tcp.SetLinger(0)
				}
			}
			_ = conn.Close()
		}
	}
	return n, io.ErrClosedPipe
}

func (w *resetWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// throttleWriter sends a response body no faster than `rate` bytes per second: slow storage, or a
// slow link to it (an instant-recovery datastore on backup storage), one request at a time.
type throttleWriter struct {
	http.ResponseWriter
	rate    int64
	start   time.Time
	written int64
}

func (w *throttleWriter) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n := min(len(b), 64<<10)
		due := w.start.Add(time.Duration(float64(w.written+int64(n)) / float64(w.rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		m, err := w.ResponseWriter.Write(b[:n])
		w.written += int64(m)
		total += m
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

func (w *throttleWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// --- control API --------------------------------------------------------------------------

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (l *Launcher) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+l.spec.ControlToken {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "bad or missing bearer token"})
		return
	}
	route := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/quickmig")
	if l.serveRealFaults(w, r, route) {
		return
	}
	if l.serveOutage(w, r, route) {
		return
	}
	if l.serveStreams(w, route) {
		return
	}
	switch route {
	case "GET /health":
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "GET /profile":
		writeJSON(w, 200, l.spec.effective())
	case "GET /calls":
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		writeJSON(w, 200, map[string]any{"calls": l.calls.since(since)})
	case "DELETE /calls":
		l.calls.mu.Lock()
		l.calls.entries = nil
		l.calls.mu.Unlock()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "POST /faults":
		var fr faultRule
		if err := json.NewDecoder(r.Body).Decode(&fr); err != nil || fr.Kind == "" {
			writeJSON(w, 400, map[string]string{"error": "invalid rule"})
			return
		}
		switch fr.Kind {
		case "soap", "http-reset", "http-status", "latency", "bandwidth":
		case "question":
			if fr.MessageID == "" || len(fr.Choices) == 0 {
				writeJSON(w, 400, map[string]string{"error": "a question rule needs messageId and choices"})
				return
			}
		default:
			writeJSON(w, 400, map[string]string{"error": "unknown kind " + fr.Kind})
			return
		}
		l.faults.add(&fr)
		writeJSON(w, 201, fr)
	case "GET /faults":
		writeJSON(w, 200, map[string]any{"rules": l.faults.list()})
	case "DELETE /faults":
		l.faults.clear()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "POST /guest/write":
		var req struct {
			VM         string `json:"vm"`
			Disk       int    `json:"disk"`
			Offset     int64  `json:"offset"`
			DataBase64 string `json:"dataBase64"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		vs := l.vmByName(req.VM)
		if vs == nil {
			writeJSON(w, 404, map[string]string{"error": "no such vm"})
			return
		}
		data, err := base64.StdEncoding.DecodeString(req.DataBase64)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		vs.mu.Lock()
		if !vs.running {
			vs.mu.Unlock()
			writeJSON(w, 409, map[string]string{"error": "vm is not running"})
			return
		}
		err = vs.writeLocked(req.Disk, req.Offset, data)
		vs.mu.Unlock()
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "POST /guest/rate":
		var req struct {
			VM          string `json:"vm"`
			BytesPerSec int64  `json:"bytesPerSec"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		vs := l.vmByName(req.VM)
		if vs == nil {
			writeJSON(w, 404, map[string]string{"error": "no such vm"})
			return
		}
		// The rate belongs to the guest, so it is written into the .vmx too: a copy of the VM
		// registered elsewhere writes at the rate the guest had when it was copied.
		vs.mu.Lock()
		err := l.rewriteVMX(vs, func(x *VMX) {
			x.Set("quickmig.guestWriteBytesPerSec", strconv.FormatInt(req.BytesPerSec, 10))
		})
		vs.mu.Unlock()
		if err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		vs.rate.Store(req.BytesPerSec)
		go l.saveJournal()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "POST /guest/shutdown-action":
		var req struct {
			VM     string `json:"vm"`
			Action string `json:"action"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		switch req.Action {
		case "halt", "ignore", "restart", "hang":
		default:
			writeJSON(w, 400, map[string]string{"error": "action must be halt, ignore, restart or hang, got " + strconv.Quote(req.Action)})
			return
		}
		vs := l.vmByName(req.VM)
		if vs == nil {
			writeJSON(w, 404, map[string]string{"error": "no such vm"})
			return
		}
		vs.mu.Lock()
		vs.shutdownAction = req.Action
		vs.mu.Unlock()
		writeJSON(w, 200, map[string]bool{"ok": true})
	case "POST /tasks/hold":
		var req struct {
			VM      string  `json:"vm"`
			Seconds float64 `json:"seconds"`
			Name    string  `json:"name"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Seconds <= 0 {
			writeJSON(w, 400, map[string]string{"error": "need vm and seconds > 0"})
			return
		}
		vs := l.vmByName(req.VM)
		if vs == nil {
			writeJSON(w, 404, map[string]string{"error": "no such vm"})
			return
		}
		ref, err := l.holdTask(vs, req.Name, time.Duration(req.Seconds*float64(time.Second)))
		if err != "" {
			writeJSON(w, 409, map[string]string{"error": err})
			return
		}
		writeJSON(w, 201, map[string]string{"task": ref.Value})
	case "GET /datastores":
		type dsOut struct {
			Name string `json:"name"`
			Path string `json:"path"`
			URL  string `json:"url"`
		}
		out := []dsOut{}
		for _, d := range l.spec.Datastores {
			u := strings.TrimSuffix(l.URL, "/sdk") + "/folder?dcPath=" + l.dcPath() + "&dsName=" + d.Name
			out = append(out, dsOut{d.Name, d.Path, u})
		}
		writeJSON(w, 200, out)
	case "GET /vms":
		writeJSON(w, 200, l.vmList())
	default:
		writeJSON(w, 404, map[string]string{"error": "no route " + route})
	}
}

// holdTask runs a mutating task on the VM for d, as another client's would (a backup job's snapshot,
// say): while it runs, every other mutating task on the VM fails with TaskInProgress. It fails at once
// when the VM is busy already.
func (l *Launcher) holdTask(vs *vmState, name string, d time.Duration) (types.ManagedObjectReference, string) {
	if name == "" {
		name = "createSnapshot"
	}
	vs.mu.RLock()
	busy := vs.busy != nil
	vs.mu.RUnlock()
	if busy {
		return types.ManagedObjectReference{}, "vm is busy with another task"
	}
	ref := l.vmTask(l.bgCtx(), vs.ref, name, func(_ *vmState, _ *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		select {
		case <-time.After(d):
		case <-l.done:
		}
		return nil, nil
	})
	return ref, ""
}

func (l *Launcher) dcPath() string {
	if l.spec.Kind == "vcenter" {
		return l.spec.Datacenter
	}
	return "ha-datacenter"
}

type vmOut struct {
	Moref string `json:"moref"`
	Name  string `json:"name"`
	Power string `json:"power"`
	VMX   string `json:"vmx"`
	Host  string `json:"host"`
	Disks []struct {
		Chain []string `json:"chain"`
	} `json:"disks"`
}

func (l *Launcher) vmList() []vmOut {
	out := []vmOut{}
	for _, vs := range l.allVMs() {
		vm, ok := l.reg.Get(vs.ref).(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		var power string
		l.reg.WithLock(l.bgCtx(), vm, func() { power = string(vm.Runtime.PowerState) })
		vs.mu.RLock()
		o := vmOut{Moref: vs.ref.Value, Name: vs.name, Power: power, VMX: vs.vmx.String(), Host: vs.host}
		for _, d := range vs.disks {
			var c []string
			for i := len(d.chain) - 1; i >= 0; i-- {
				c = append(c, d.chain[i].String())
			}
			o.Disks = append(o.Disks, struct {
				Chain []string `json:"chain"`
			}{c})
		}
		vs.mu.RUnlock()
		out = append(out, o)
	}
	return out
}
