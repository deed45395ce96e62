package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// privSpec is the ESXi base spec with one user holding privs on entity.
func privSpec(t *testing.T, entity string, propagate bool, privs ...string) *Spec {
	s := baseSpec(t.TempDir(), "esx")
	s.Users = []UserSpec{{Name: "quickmig", Password: "least-priv", Permissions: []PermissionSpec{{Entity: entity, Privileges: privs, Propagate: propagate}}}}
	return s
}

func noPermission(t *testing.T, err error) *types.NoPermission {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded; want NoPermission")
	}
	var f types.HasFault
	if errors.As(err, &f) {
		if np, ok := f.Fault().(*types.NoPermission); ok {
			return np
		}
	}
	if soap.IsSoapFault(err) {
		if np, ok := soap.ToSoapFault(err).VimFault().(types.NoPermission); ok {
			return &np
		}
	}
	t.Fatalf("want NoPermission, got %v", err)
	return nil
}

func userLab(t *testing.T, s *Spec) (*lab, *govmomi.Client, *object.VirtualMachine) {
	lb := startLab(t, s)
	uc := lb.login("quickmig", "least-priv")
	vm := object.NewVirtualMachine(uc.Client, lb.vm("ir-app01").Reference())
	return lb, uc, vm
}

func TestPrivilegeRefusedNamesPrivilegeAndObject(t *testing.T) {
	_, _, vm := userLab(t, privSpec(t, "/", true, "VirtualMachine.Interact.PowerOn"))
	_, err := vm.Suspend(context.Background())
	np := noPermission(t, err)
	if np.PrivilegeId != "VirtualMachine.Interact.Suspend" || np.Object == nil || *np.Object != vm.Reference() {
		t.Fatalf("NoPermission names %s on %v; want VirtualMachine.Interact.Suspend on %s", np.PrivilegeId, np.Object, vm.Reference())
	}
	if len(np.MissingPrivileges) != 1 || np.MissingPrivileges[0].Entity != vm.Reference() {
		t.Fatalf("missingPrivileges %+v", np.MissingPrivileges)
	}
}

func TestPrivilegeGrantedAllowsCall(t *testing.T) {
	lb, _, vm := userLab(t, privSpec(t, "/", true, "VirtualMachine.Interact.Suspend"))
	lb.must(vm.Suspend(context.Background()))
	var st types.VirtualMachinePowerState
	if st, _ = vm.PowerState(context.Background()); st != types.VirtualMachinePowerStateSuspended {
		t.Fatalf("power state %s after a granted suspend", st)
	}
}

func TestAdminKeepsEveryPrivilege(t *testing.T) {
	lb := startLab(t, privSpec(t, "/", true))
	lb.must(lb.vm("ir-app01").Suspend(context.Background()))
}

func TestPrivilegePropagation(t *testing.T) {
	// Granted on the VM folder with propagation: the VM inherits it.
	_, _, vm := userLab(t, privSpec(t, "/ha-datacenter/vm", true, "VirtualMachine.State.CreateSnapshot"))
	if _, err := vm.CreateSnapshot(context.Background(), "s1", "", false, false); err != nil {
		t.Fatalf("propagated privilege refused: %v", err)
	}
	// The same grant without propagation stays on the folder.
	_, _, vm2 := userLab(t, privSpec(t, "/ha-datacenter/vm", false, "VirtualMachine.State.CreateSnapshot"))
	np := noPermission(t, func() error { _, err := vm2.CreateSnapshot(context.Background(), "s1", "", false, false); return err }())
	if np.PrivilegeId != "VirtualMachine.State.CreateSnapshot" {
		t.Fatalf("privilege %s", np.PrivilegeId)
	}
	// A permission on the VM itself overrides the one propagated from above.
	s := privSpec(t, "/", true, "VirtualMachine.State.CreateSnapshot")
	s.Users[0].Permissions = append(s.Users[0].Permissions, PermissionSpec{Entity: "/ha-datacenter/vm/ir-app01", Privileges: []string{"VirtualMachine.Interact.PowerOff"}})
	_, _, vm3 := userLab(t, s)
	noPermission(t, func() error { _, err := vm3.CreateSnapshot(context.Background(), "s1", "", false, false); return err }())
}

func TestPrivilegeRelocateNeedsDatastoreSpace(t *testing.T) {
	lb, _, vm := userLab(t, privSpec(t, "/ha-datacenter/vm", true, "Resource.HotMigrate"))
	ds := lb.l.dsRefs["datastore1"]
	_, err := vm.Relocate(context.Background(), types.VirtualMachineRelocateSpec{Datastore: &ds}, types.VirtualMachineMovePriorityDefaultPriority)
	np := noPermission(t, err)
	if np.PrivilegeId != "Datastore.AllocateSpace" || *np.Object != ds {
		t.Fatalf("NoPermission %s on %v; want Datastore.AllocateSpace on %s", np.PrivilegeId, np.Object, ds)
	}
}

func TestFolderRefusedWithoutDatastorePrivilege(t *testing.T) {
	lb, uc, _ := userLab(t, privSpec(t, "/ha-datacenter/datastore/datastore1", false, "Datastore.Browse"))
	do := func(method string, cookie bool) int {
		u := strings.TrimSuffix(lb.l.URL, "/sdk") + "/folder/x/a.txt?dcPath=ha-datacenter&dsName=datastore1"
		var body *strings.Reader
		if method == http.MethodPut {
			body = strings.NewReader("hello")
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, u, body)
		if cookie {
			su, _ := url.Parse(lb.l.URL)
			for _, c := range uc.Client.Jar.Cookies(su) {
				req.AddCookie(c)
			}
		} else {
			req.SetBasicAuth("quickmig", "least-priv")
		}
		res, err := lb.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := do(http.MethodPut, true); code != http.StatusForbidden {
		t.Fatalf("PUT without Datastore.FileManagement: %d, want 403", code)
	}
	if code := do(http.MethodDelete, false); code != http.StatusForbidden {
		t.Fatalf("DELETE without Datastore.FileManagement: %d, want 403", code)
	}
	if code := do(http.MethodGet, true); code != http.StatusNotFound {
		t.Fatalf("GET with Datastore.Browse of a missing file: %d, want 404", code)
	}
	// IR-NFS: no privilege at all, not even Browse.
	u := strings.TrimSuffix(lb.l.URL, "/sdk") + "/folder/x?dcPath=ha-datacenter&dsName=IR-NFS"
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.SetBasicAuth("quickmig", "least-priv")
	res, err := lb.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("GET without Datastore.Browse: %d, want 403", res.StatusCode)
	}
	if code, _ := lb.folder(http.MethodPut, "datastore1", "x/b.txt", []byte("admin"), "basic", nil); code == nil || code.StatusCode != http.StatusCreated {
		t.Fatalf("the administrator's PUT: %v", code)
	}
}

func TestHasPrivilegeOnEntitiesAnswersFromPermissions(t *testing.T) {
	lb, uc, vm := userLab(t, privSpec(t, "/ha-datacenter/vm", true, "VirtualMachine.Interact.Suspend"))
	am := *uc.Client.ServiceContent.AuthorizationManager
	ds := lb.l.dsRefs["datastore1"]
	var us *types.UserSession
	if s, err := uc.SessionManager.UserSession(context.Background()); err != nil || s == nil {
		t.Fatalf("session: %v", err)
	} else {
		us = s
	}
	res, err := methods.HasPrivilegeOnEntities(context.Background(), uc.Client, &types.HasPrivilegeOnEntities{
		This: am, Entity: []types.ManagedObjectReference{vm.Reference(), ds}, SessionId: us.Key,
		PrivId: []string{"VirtualMachine.Interact.Suspend", "Datastore.Browse", "System.View"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range res.Returnval {
		for _, p := range e.PrivAvailability {
			got[e.Entity.Value+" "+p.PrivId] = p.IsGranted
		}
	}
	want := map[string]bool{
		vm.Reference().Value + " VirtualMachine.Interact.Suspend": true,
		vm.Reference().Value + " Datastore.Browse":                false,
		vm.Reference().Value + " System.View":                     true,
		ds.Value + " VirtualMachine.Interact.Suspend":             false,
		ds.Value + " Datastore.Browse":                            false,
		ds.Value + " System.View":                                 true,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: granted %v, want %v", k, got[k], v)
		}
	}
	// An unknown session has nothing.
	res, err = methods.HasPrivilegeOnEntities(context.Background(), uc.Client, &types.HasPrivilegeOnEntities{
		This: am, Entity: []types.ManagedObjectReference{vm.Reference()}, SessionId: "no-such-session", PrivId: []string{"System.View"},
	})
	if err != nil || res.Returnval[0].PrivAvailability[0].IsGranted {
		t.Fatalf("unknown session: %+v %v", res, err)
	}
	// FetchUserPrivilegeOnEntities lists the same.
	fr, err := methods.FetchUserPrivilegeOnEntities(context.Background(), uc.Client, &types.FetchUserPrivilegeOnEntities{
		This: am, Entities: []types.ManagedObjectReference{vm.Reference()}, UserName: "quickmig",
	})
	if err != nil {
		t.Fatal(err)
	}
	has := strings.Join(fr.Returnval[0].Privileges, ",")
	if !strings.Contains(has, "VirtualMachine.Interact.Suspend") || strings.Contains(has, "VirtualMachine.Interact.PowerOn") {
		t.Fatalf("FetchUserPrivilegeOnEntities: %s", has)
	}
	// A wrong password is refused; the administrator's login still works.
	u, _ := url.Parse(lb.l.URL)
	u.User = url.UserPassword("quickmig", "wrong")
	if _, err := govmomi.NewClient(context.Background(), u, true); err == nil {
		t.Fatal("a wrong password logged in")
	}
}
