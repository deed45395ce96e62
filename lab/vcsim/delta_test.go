package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vmware/govmomi/vim25/types"
)

func TestDeltaFormatChainAndMerge(t *testing.T) {
	dir := t.TempDir()
	const size = 64 << 10
	base := filepath.Join(dir, "d-flat.vmdk")
	if err := writeFlatExtent(base, size, "pattern", 5, 0); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(base)
	d1, d2 := filepath.Join(dir, "d-000001-delta.vmdk"), filepath.Join(dir, "d-000002-delta.vmdk")
	for _, d := range []string{d1, d2} {
		if err := createDelta(d, size); err != nil {
			t.Fatal(err)
		}
	}
	write := func(file string, off int64, data []byte) {
		f, _ := os.OpenFile(file, os.O_RDWR, 0)
		defer f.Close()
		if err := appendDelta(f, off, data); err != nil {
			t.Fatal(err)
		}
		copy(want[off:], data)
	}
	write(d1, 0, pattern(4096, 1))
	write(d1, 100, pattern(50, 2)) // overlapping, later wins
	write(d2, 4096*3, pattern(8192, 3))
	write(d2, 10, pattern(20, 4))
	// a torn trailing record is ignored
	f, _ := os.OpenFile(d2, os.O_RDWR|os.O_APPEND, 0)
	_, _ = f.Write([]byte{1, 2, 3})
	f.Close()

	if st, _ := os.Stat(d1); st.Size() != deltaHeaderSize+2*deltaRecHeader+4096+50 {
		t.Fatalf("delta size %d grows with capacity?", st.Size())
	}
	cr, err := OpenChain([]string{base, d1, d2}, size)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cr.ReadAll()
	cr.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("chain content: %v", err)
	}
	// merge d2 into d1 (delta parent: appended), then d1 into the base (written in place)
	if err := mergeDelta(d1, d2); err != nil {
		t.Fatal(err)
	}
	if err := mergeDelta(base, d1); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(base); !bytes.Equal(b, want) {
		t.Fatal("merged base")
	}
}

func TestFaultRuleProbabilityIsSeeded(t *testing.T) {
	run := func() []bool {
		var f faultRules
		f.add(&faultRule{Kind: "soap", Method: "PowerOnVM_Task", Fault: "HostNotConnected", Probability: 0.5, Seed: 7})
		var out []bool
		for range 32 {
			out = append(out, f.soapFault("PowerOnVM_Task", types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}) != nil)
		}
		return out
	}
	a, b := run(), run()
	fired := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different sequence")
		}
		if a[i] {
			fired++
		}
	}
	if fired == 0 || fired == len(a) {
		t.Fatalf("probability 0.5 fired %d/%d", fired, len(a))
	}
	var f faultRules
	f.add(&faultRule{Kind: "soap", Method: "X", Fault: "HostNotConnected", Count: 1})
	if _, ok := f.soapFault("X", types.ManagedObjectReference{}).(*types.HostNotConnected); !ok {
		t.Fatal("fault type by name")
	}
	if f.soapFault("X", types.ManagedObjectReference{}) != nil {
		t.Fatal("count not honoured")
	}
}

// TestProcessContract builds the binary and checks the ready line, stdout silence and SIGTERM.
func TestProcessContract(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "quickmig-vcsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	spec := baseSpec(dir, "vcenter")
	b, _ := json.Marshal(spec)
	specFile := filepath.Join(dir, "spec.json")
	_ = os.WriteFile(specFile, b, 0o600)

	cmd := exec.Command(bin, "--spec", specFile)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	lines := make(chan string, 10)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var ready struct {
		Ready      bool   `json:"ready"`
		Name       string `json:"name"`
		URL        string `json:"url"`
		Thumbprint string `json:"thumbprint"`
		CertFile   string `json:"certFile"`
		PID        int    `json:"pid"`
	}
	select {
	case l := <-lines:
		if err := json.Unmarshal([]byte(l), &ready); err != nil || !ready.Ready || ready.Name != "vc-a" || ready.PID != cmd.Process.Pid ||
			ready.CertFile != filepath.Join(spec.StateDir, "cert.pem") || len(ready.Thumbprint) != 95 {
			t.Fatalf("ready line %q: %v", l, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no ready line; stderr: %s", stderr.String())
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if err != nil || time.Since(start) > 2*time.Second {
		t.Fatalf("exit after SIGTERM: %v in %s", err, time.Since(start))
	}
	for l := range lines {
		t.Fatalf("extra stdout line %q", l)
	}
	if bytes.Contains(stderr.Bytes(), []byte(spec.Password)) {
		t.Fatal("password logged")
	}
	// a fatal start error: exit code 1, message on stderr, nothing on stdout
	bad := *spec
	bad.Kind = "nope"
	b, _ = json.Marshal(bad)
	_ = os.WriteFile(specFile, b, 0o600)
	out, err := exec.Command(bin, "--spec", specFile).Output()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || len(out) != 0 || len(ee.Stderr) == 0 {
		t.Fatalf("bad spec: %v %q", err, out)
	}
}
