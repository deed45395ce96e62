package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// UserSpec is a user of the endpoint other than the administrator, with the permissions it holds.
type UserSpec struct {
	Name        string           `json:"name"`
	Password    string           `json:"password"`
	Permissions []PermissionSpec `json:"permissions"`
}

// PermissionSpec grants a role (a list of privilege ids) on an entity, by inventory path ("/" is the
// root folder; "/DC1/vm", "/ha-datacenter/datastore/datastore1", "/DC1/vm/web01").
type PermissionSpec struct {
	Entity     string   `json:"entity"`
	Role       string   `json:"role,omitempty"`
	Privileges []string `json:"privileges"`
	Propagate  bool     `json:"propagate"`
}

type permission struct {
	entity    types.ManagedObjectReference
	privs     map[string]bool
	propagate bool
}

// authz holds the users and their permissions, resolved on the inventory once it is built (read-only
// afterwards).
type authz struct {
	admin string
	users map[string]*UserSpec
	perms map[string][]permission // by user name
}

// systemPrivilege: every role holds System.Anonymous, System.View and System.Read (vSphere Security,
// "System Roles": "the No Access, Read Only and every custom role include the System privileges").
func systemPrivilege(id string) bool { return strings.HasPrefix(id, "System.") }

// resolvePermissions turns the spec's users into permissions on entities; an unknown path is an error.
func (l *Launcher) resolvePermissions() error {
	a := &authz{admin: l.spec.Username, users: map[string]*UserSpec{}, perms: map[string][]permission{}}
	si := object.NewSearchIndex(l.client)
	ctx := l.internalCtx()
	for i := range l.spec.Users {
		u := &l.spec.Users[i]
		a.users[u.Name] = u
		for _, p := range u.Permissions {
			var ref types.ManagedObjectReference
			if p.Entity == "/" || p.Entity == "" {
				ref = l.client.ServiceContent.RootFolder
			} else {
				o, err := si.FindByInventoryPath(ctx, p.Entity)
				if err != nil || o == nil {
					return fmt.Errorf("spec: user %s: no entity at inventory path %q", u.Name, p.Entity)
				}
				ref = o.Reference()
			}
			set := map[string]bool{}
			for _, id := range p.Privileges {
				set[id] = true
			}
			a.perms[u.Name] = append(a.perms[u.Name], permission{entity: ref, privs: set, propagate: p.Propagate})
		}
	}
	l.authz = a
	l.reg.SessionManager().ValidLogin = func(req *types.Login) bool {
		if req.UserName == l.spec.Username {
			return req.Password == l.spec.Password
		}
		u, ok := a.users[req.UserName]
		return ok && req.Password == u.Password
	}
	return nil
}

// login checks a user name and password (HTTP basic authentication of /folder).
func (a *authz) login(user, password string) bool {
	u, ok := a.users[user]
	return ok && u.Password == password
}

// parents are the entities an entity inherits permissions from: its parent, and for a VM also its
// resource pool ("virtual machines inherit permissions from both the parent virtual machine folder and
// the parent host, cluster, or resource pool simultaneously", vSphere Security, "Permission Inheritance").
func parents(ctx *simulator.Context, ref types.ManagedObjectReference) []types.ManagedObjectReference {
	var out []types.ManagedObjectReference
	switch e := ctx.Map.Get(ref).(type) {
	case *simulator.VirtualMachine:
		if e.Parent != nil {
			out = append(out, *e.Parent)
		}
		if e.ResourcePool != nil {
			out = append(out, *e.ResourcePool)
		}
	case mo.Entity:
		if p := e.Entity().Parent; p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// effective is the privilege set of user on an entity: the permissions defined on the entity itself
// when there are any ("permissions defined on a child object override those propagated from parent
// objects", vSphere Security), else the union of what its parents propagate.
func (a *authz) effective(ctx *simulator.Context, user string, ref types.ManagedObjectReference) map[string]bool {
	perms := a.perms[user]
	out := map[string]bool{}
	direct := false
	for _, p := range perms {
		if p.entity == ref {
			direct = true
			for id := range p.privs {
				out[id] = true
			}
		}
	}
	if direct {
		return out
	}
	for _, parent := range parents(ctx, ref) {
		for id := range a.propagated(ctx, perms, parent, 0) {
			out[id] = true
		}
	}
	return out
}

// propagated is what an entity passes to its children: its own propagating permissions when it has
// any for the user, else what its parents pass.
func (a *authz) propagated(ctx *simulator.Context, perms []permission, ref types.ManagedObjectReference, depth int) map[string]bool {
	out := map[string]bool{}
	if depth > 32 {
		return out
	}
	own := false
	for _, p := range perms {
		if p.entity == ref {
			own = true
			if p.propagate {
				for id := range p.privs {
					out[id] = true
				}
			}
		}
	}
	if own {
		return out
	}
	for _, parent := range parents(ctx, ref) {
		for id := range a.propagated(ctx, perms, parent, depth+1) {
			out[id] = true
		}
	}
	return out
}

// has: the user holds the privilege on the entity (the administrator and System.* always).
func (a *authz) has(ctx *simulator.Context, user, priv string, ref types.ManagedObjectReference) bool {
	if a == nil || user == a.admin {
		return true
	}
	if _, ok := a.users[user]; !ok {
		return false
	}
	return systemPrivilege(priv) || a.effective(ctx, user, ref)[priv]
}

// need is one privilege a call requires on one entity.
type need struct {
	priv string
	on   types.ManagedObjectReference
}

// checkPrivileges refuses a call whose privilege the session's user lacks with NoPermission naming
// the object and the privilege (and missingPrivileges, as vSphere 8 fills it).
func (l *Launcher) checkPrivileges(ctx *simulator.Context, m *simulator.Method) types.BaseMethodFault {
	if ctx.Session == nil || l.authz == nil || ctx.Session.UserName == l.spec.Username {
		return nil
	}
	for _, n := range l.required(ctx, m) {
		if !l.authz.has(ctx, ctx.Session.UserName, n.priv, n.on) {
			on := n.on
			return &types.NoPermission{
				Object: &on, PrivilegeId: n.priv,
				MissingPrivileges: []types.NoPermissionEntityPrivileges{{Entity: on, PrivilegeIds: []string{n.priv}}},
			}
		}
	}
	return nil
}

// datastoreOf is the datastore a "[ds] path" names (false when none of this endpoint's).
func (l *Launcher) datastoreOf(path string) (types.ManagedObjectReference, bool) {
	p, ok := parseDSPath(path)
	if !ok {
		return types.ManagedObjectReference{}, false
	}
	ref, ok := l.dsRefs[p.DS]
	return ref, ok
}

// required lists the privileges a call needs, on which entity: the "Required privileges" of each
// method in the vSphere Web Services API reference (docs/privileges.md has the same table). Methods
// not listed need only System.View/System.Read, which every role holds.
func (l *Launcher) required(ctx *simulator.Context, m *simulator.Method) []need {
	this := m.This
	var out []need
	add := func(priv string, on types.ManagedObjectReference) { out = append(out, need{priv, on}) }
	files := func(priv string, paths ...string) {
		for _, p := range paths {
			if ds, ok := l.datastoreOf(p); ok {
				add(priv, ds)
			}
		}
	}
	vmParent := func(vm types.ManagedObjectReference) *types.ManagedObjectReference {
		if v, ok := ctx.Map.Get(vm).(*simulator.VirtualMachine); ok {
			return v.Parent
		}
		return nil
	}
	switch req := m.Body.(type) {
	case *types.PowerOnVM_Task:
		add("VirtualMachine.Interact.PowerOn", this)
	case *types.PowerOffVM_Task, *types.ShutdownGuest:
		add("VirtualMachine.Interact.PowerOff", this)
	case *types.SuspendVM_Task:
		add("VirtualMachine.Interact.Suspend", this)
	case *types.AnswerVM:
		add("VirtualMachine.Interact.AnswerQuestion", this)
	case *types.CreateSnapshot_Task:
		add("VirtualMachine.State.CreateSnapshot", this)
	case *types.RemoveAllSnapshots_Task, *types.ConsolidateVMDisks_Task:
		add("VirtualMachine.State.RemoveSnapshot", this)
	case *types.RemoveSnapshot_Task:
		if s, ok := ctx.Map.Get(this).(*simulator.VirtualMachineSnapshot); ok {
			add("VirtualMachine.State.RemoveSnapshot", s.Vm)
		}
	case *types.QueryChangedDiskAreas:
		add("VirtualMachine.Provisioning.DiskRandomRead", this)
	case *types.UpgradeVM_Task:
		add("VirtualMachine.Config.UpgradeVirtualHardware", this)
	case *types.Rename_Task:
		if this.Type == "VirtualMachine" {
			add("VirtualMachine.Config.Rename", this)
		}
	case *types.ReconfigVM_Task:
		if req.Spec.ChangeTrackingEnabled != nil {
			add("VirtualMachine.Config.ChangeTracking", this)
		}
		if req.Spec.Name != "" {
			add("VirtualMachine.Config.Rename", this)
		}
		// An adapter moved to another network: "Modify device settings" on the VM and "Assign network"
		// on the network (Broadcom KB 324539).
		for _, change := range req.Spec.DeviceChange {
			std, dvpg, ok := nicNetwork(change)
			if !ok || change.GetVirtualDeviceConfigSpec().Operation != types.VirtualDeviceConfigSpecOperationEdit {
				continue
			}
			add("VirtualMachine.Config.EditDevice", this)
			if dvpg != nil {
				add("Network.Assign", *dvpg)
			} else if vm, ok := ctx.Map.Get(this).(*simulator.VirtualMachine); ok {
				if net, found := hostNetwork(ctx, vm, std.DeviceName); found {
					add("Network.Assign", net)
				}
			}
		}
	case *types.UnregisterVM:
		add("VirtualMachine.Inventory.Unregister", this)
		if p := vmParent(this); p != nil {
			add("VirtualMachine.Inventory.Unregister", *p)
		}
	case *types.Destroy_Task:
		if this.Type == "VirtualMachine" {
			add("VirtualMachine.Inventory.Delete", this)
			if p := vmParent(this); p != nil {
				add("VirtualMachine.Inventory.Delete", *p)
			}
		}
	case *types.RegisterVM_Task:
		add("VirtualMachine.Inventory.Register", this)
		if req.Pool != nil {
			add("Resource.AssignVMToPool", *req.Pool)
		}
	case *types.RelocateVM_Task:
		out = append(out, l.relocateNeeds(ctx, this, req.Spec)...)
	case *types.SearchDatastore_Task:
		files("Datastore.Browse", req.DatastorePath)
	case *types.SearchDatastoreSubFolders_Task:
		files("Datastore.Browse", req.DatastorePath)
	case *types.MakeDirectory:
		files("Datastore.FileManagement", req.Name)
	case *types.DeleteDatastoreFile_Task:
		files("Datastore.FileManagement", req.Name)
	case *types.MoveDatastoreFile_Task:
		files("Datastore.FileManagement", req.SourceName, req.DestinationName)
	case *types.CopyDatastoreFile_Task:
		files("Datastore.FileManagement", req.SourceName, req.DestinationName)
	case *types.CopyVirtualDisk_Task:
		files("Datastore.FileManagement", req.SourceName, req.DestName)
	case *types.DeleteVirtualDisk_Task:
		files("Datastore.FileManagement", req.Name)
	case *types.RemoveDatastore:
		for _, h := range ctx.Map.All("HostSystem") {
			if hs, ok := h.(*simulator.HostSystem); ok && hs.ConfigManager.DatastoreSystem != nil && *hs.ConfigManager.DatastoreSystem == this {
				add("Host.Config.Storage", hs.Self)
			}
		}
	}
	return out
}

// relocateNeeds: RelocateVM_Task needs Resource.HotMigrate (a running VM) or Resource.ColdMigrate on
// the VM, Resource.AssignVMToPool on a new pool, Datastore.AllocateSpace on each target datastore and
// VirtualMachine.Inventory.Move on the VM and the new folder when the folder changes.
func (l *Launcher) relocateNeeds(ctx *simulator.Context, vmRef types.ManagedObjectReference, spec types.VirtualMachineRelocateSpec) []need {
	vm, ok := ctx.Map.Get(vmRef).(*simulator.VirtualMachine)
	if !ok {
		return nil
	}
	var out []need
	if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		out = append(out, need{"Resource.HotMigrate", vmRef})
	} else {
		out = append(out, need{"Resource.ColdMigrate", vmRef})
	}
	if spec.Pool != nil && (vm.ResourcePool == nil || *spec.Pool != *vm.ResourcePool) {
		out = append(out, need{"Resource.AssignVMToPool", *spec.Pool})
	}
	seen := map[types.ManagedObjectReference]bool{}
	dss := []*types.ManagedObjectReference{spec.Datastore}
	for i := range spec.Disk {
		dss = append(dss, &spec.Disk[i].Datastore)
	}
	for _, ds := range dss {
		if ds != nil && ds.Value != "" && !seen[*ds] {
			seen[*ds] = true
			out = append(out, need{"Datastore.AllocateSpace", *ds})
		}
	}
	if spec.Folder != nil && (vm.Parent == nil || *spec.Folder != *vm.Parent) {
		out = append(out, need{"VirtualMachine.Inventory.Move", vmRef}, need{"VirtualMachine.Inventory.Move", *spec.Folder})
	}
	return out
}

// labAuthz answers the AuthorizationManager's privilege queries from the lab's permissions (the stock
// simulator grants everything).
type labAuthz struct {
	*simulator.AuthorizationManager
	l *Launcher
}

func (*labAuthz) lab() {}

// userOfSession is the user of a session key (the vmware_soap_session cookie value is the key).
func (l *Launcher) userOfSession(key string) (string, bool) {
	v, ok := l.sessions.Load(key)
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

func (a *labAuthz) answer(ctx *simulator.Context, user string, known bool, entities []types.ManagedObjectReference, privs []string) []types.EntityPrivilege {
	out := []types.EntityPrivilege{}
	for _, e := range entities {
		ep := types.EntityPrivilege{Entity: e}
		for _, id := range privs {
			ep.PrivAvailability = append(ep.PrivAvailability, types.PrivilegeAvailability{PrivId: id, IsGranted: known && a.l.authz.has(ctx, user, id, e)})
		}
		out = append(out, ep)
	}
	return out
}

// HasPrivilegeOnEntities: "if the session does not exist, false is returned for all privileges".
func (a *labAuthz) HasPrivilegeOnEntities(ctx *simulator.Context, req *types.HasPrivilegeOnEntities) soap.HasFault {
	user, known := a.l.userOfSession(req.SessionId)
	if ctx.Session != nil && req.SessionId == ctx.Session.Key {
		user, known = ctx.Session.UserName, true
	}
	return &methods.HasPrivilegeOnEntitiesBody{Res: &types.HasPrivilegeOnEntitiesResponse{Returnval: a.answer(ctx, user, known, req.Entity, req.PrivId)}}
}

func (a *labAuthz) HasPrivilegeOnEntity(ctx *simulator.Context, req *types.HasPrivilegeOnEntity) soap.HasFault {
	user, known := a.l.userOfSession(req.SessionId)
	if ctx.Session != nil && req.SessionId == ctx.Session.Key {
		user, known = ctx.Session.UserName, true
	}
	res := a.answer(ctx, user, known, []types.ManagedObjectReference{req.Entity}, req.PrivId)[0]
	out := make([]bool, len(res.PrivAvailability))
	for i, p := range res.PrivAvailability {
		out[i] = p.IsGranted
	}
	return &methods.HasPrivilegeOnEntityBody{Res: &types.HasPrivilegeOnEntityResponse{Returnval: out}}
}

func (a *labAuthz) HasUserPrivilegeOnEntities(ctx *simulator.Context, req *types.HasUserPrivilegeOnEntities) soap.HasFault {
	return &methods.HasUserPrivilegeOnEntitiesBody{Res: &types.HasUserPrivilegeOnEntitiesResponse{Returnval: a.answer(ctx, req.UserName, true, req.Entities, req.PrivId)}}
}

// FetchUserPrivilegeOnEntities lists every privilege the user holds on each entity.
func (a *labAuthz) FetchUserPrivilegeOnEntities(ctx *simulator.Context, req *types.FetchUserPrivilegeOnEntities) soap.HasFault {
	all := object.AuthorizationRoleList(a.RoleList).ByName("Admin").Privilege
	out := []types.UserPrivilegeResult{}
	for _, e := range req.Entities {
		r := types.UserPrivilegeResult{Entity: e}
		for _, id := range all {
			if a.l.authz.has(ctx, req.UserName, id, e) {
				r.Privileges = append(r.Privileges, id)
			}
		}
		sort.Strings(r.Privileges)
		out = append(out, r)
	}
	return &methods.FetchUserPrivilegeOnEntitiesBody{Res: &types.FetchUserPrivilegeOnEntitiesResponse{Returnval: out}}
}
