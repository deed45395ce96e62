package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

type lab struct {
	t    *testing.T
	spec *Spec
	l    *Launcher
	c    *govmomi.Client
	dir  string
	http *http.Client
}

func baseSpec(dir, kind string) *Spec {
	s := &Spec{
		Name: "esx-a", Kind: kind, Listen: "127.0.0.1:0", Username: "root", Password: "s3cret!",
		StateDir: filepath.Join(dir, "state"), ControlToken: "tok123", Profile: "quick", Guest: GuestTimes{BootSec: f64(0.5), ResumeSec: f64(0.5), ShutdownSec: f64(0.2)},
		Datastores: []DatastoreSpec{
			{Name: "datastore1", Type: "vmfs", Path: filepath.Join(dir, "ds", "datastore1"), CapacityMiB: 512},
			{Name: "IR-NFS", Type: "nfs", Path: filepath.Join(dir, "nfs"), RemoteHost: "vpower.lab", RemotePath: "/VeeamBackup_vpower", CapacityMiB: 512},
		},
		Hosts: []HostSpec{{
			Name: "esx01.lab", CPU: CPUSpec{Vendor: "intel", Model: "Intel(R) Xeon(R) Gold 6248R", Cores: 24, MHz: 3000, Features: []string{"cpuid.SSE3", "cpuid.AVX2"}},
			MemoryMiB: 262144, VMotion: true, StorageVMotion: true, Datastores: []string{"datastore1", "IR-NFS"},
		}},
		VMs: []VMSpec{{
			Name: "ir-app01", Host: "esx01.lab", Datastore: "IR-NFS", MemoryMiB: 64, CPUs: 2, GuestOS: "otherLinux64Guest", Power: "poweredOn",
			Disks: []DiskSpec{{SizeMiB: 4}, {SizeMiB: 2, Datastore: "datastore1", Fill: "sparse"}}, GuestWriteBytesPerSec: 0, Seed: 1,
		}},
	}
	if kind == "vcenter" {
		s.Name = "vc-a"
		s.LicenseFeatures = []string{"vmotion", "storagevmotion"}
		s.Clusters = []ClusterSpec{{Name: "Prod", Hosts: []string{"esx01.lab", "esx02.lab"}}}
		h2 := s.Hosts[0]
		h2.Name = "esx02.lab"
		h2.CPU.Vendor = "amd"
		h2.CPU.Model = "AMD EPYC 7543"
		s.Hosts = append(s.Hosts, h2)
	}
	return s
}

func startLab(t *testing.T, spec *Spec) *lab {
	t.Helper()
	if err := spec.validate(); err != nil {
		t.Fatal(err)
	}
	l, err := NewLauncher(spec)
	if err != nil {
		t.Fatal(err)
	}
	lb := &lab{t: t, spec: spec, l: l, http: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
	t.Cleanup(l.Stop)
	lb.c = lb.login(spec.Username, spec.Password)
	return lb
}

func (lb *lab) login(user, pass string) *govmomi.Client {
	lb.t.Helper()
	u, _ := url.Parse(lb.l.URL)
	u.User = url.UserPassword(user, pass)
	c, err := govmomi.NewClient(context.Background(), u, true)
	if err != nil {
		lb.t.Fatal(err)
	}
	return c
}

func (lb *lab) vm(name string) *object.VirtualMachine {
	lb.t.Helper()
	f := find.NewFinder(lb.c.Client, true)
	dc, err := f.DefaultDatacenter(context.Background())
	if err != nil {
		lb.t.Fatal(err)
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(context.Background(), name)
	if err != nil {
		lb.t.Fatal(err)
	}
	return vm
}

func (lb *lab) props(ref types.ManagedObjectReference, dst any, ps ...string) {
	lb.t.Helper()
	if err := property.DefaultCollector(lb.c.Client).RetrieveOne(context.Background(), ref, ps, dst); err != nil {
		lb.t.Fatal(err)
	}
}

func (lb *lab) moVM(vm *object.VirtualMachine) mo.VirtualMachine {
	var m mo.VirtualMachine
	lb.props(vm.Reference(), &m, "name", "config", "runtime", "summary", "layoutEx", "snapshot", "guest", "guestHeartbeatStatus", "datastore")
	return m
}

func (lb *lab) wait(task *object.Task, err error) (types.AnyType, error) {
	lb.t.Helper()
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(context.Background(), nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

func (lb *lab) must(task *object.Task, err error) types.AnyType {
	lb.t.Helper()
	r, err := lb.wait(task, err)
	if err != nil {
		lb.t.Fatal(err)
	}
	return r
}

// control calls the control API.
func (lb *lab) control(method, p string, body any) (int, []byte) {
	lb.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, strings.TrimSuffix(lb.l.URL, "/sdk")+"/quickmig"+p, r)
	req.Header.Set("Authorization", "Bearer "+lb.spec.ControlToken)
	res, err := lb.http.Do(req)
	if err != nil {
		lb.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (lb *lab) guestWrite(vm string, disk int, off int64, data []byte) int {
	code, _ := lb.control("POST", "/guest/write", map[string]any{"vm": vm, "disk": disk, "offset": off, "dataBase64": base64.StdEncoding.EncodeToString(data)})
	return code
}

func (lb *lab) setRate(vm string, rate int64) {
	if code, b := lb.control("POST", "/guest/rate", map[string]any{"vm": vm, "bytesPerSec": rate}); code != 200 {
		lb.t.Fatalf("rate: %d %s", code, b)
	}
}

// folder performs a /folder request; auth: "cookie", "basic" or "".
func (lb *lab) folder(method, ds, p string, body []byte, auth string, hdr map[string]string) (*http.Response, []byte) {
	lb.t.Helper()
	dc := "ha-datacenter"
	if lb.spec.Kind == "vcenter" {
		dc = lb.spec.Datacenter
	}
	u := strings.TrimSuffix(lb.l.URL, "/sdk") + "/folder/" + p + "?dcPath=" + url.QueryEscape(dc) + "&dsName=" + url.QueryEscape(ds)
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, u, r)
	switch auth {
	case "cookie":
		su, _ := url.Parse(lb.l.URL)
		for _, c := range lb.c.Client.Jar.Cookies(su) {
			req.AddCookie(c)
		}
	case "basic":
		req.SetBasicAuth(lb.spec.Username, lb.spec.Password)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := lb.http.Do(req)
	if err != nil {
		return nil, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func (lb *lab) local(ds, p string) string {
	return filepath.Join(lb.spec.datastore(ds).Path, p)
}

func fileHash(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func eventually(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// logical returns the logical content of a VM disk from its chain (launcher's view).
func (lb *lab) logical(vm string, disk int) []byte {
	lb.t.Helper()
	vs := lb.l.vmByName(vm)
	vs.mu.RLock()
	d := vs.disks[disk]
	var exts []string
	for _, p := range d.chain {
		e, _, err := lb.l.extentOf(p)
		if err != nil {
			vs.mu.RUnlock()
			lb.t.Fatal(err)
		}
		exts = append(exts, e)
	}
	size := d.capacity
	vs.mu.RUnlock()
	cr, err := OpenChain(exts, size)
	if err != nil {
		lb.t.Fatal(err)
	}
	defer cr.Close()
	b, err := cr.ReadAll()
	if err != nil {
		lb.t.Fatal(err)
	}
	return b
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i) ^ seed
	}
	return b
}

func (lb *lab) hostObj(ref types.ManagedObjectReference) *simulator.HostSystem {
	return lb.l.reg.Get(ref).(*simulator.HostSystem)
}
