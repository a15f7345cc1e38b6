package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/syslog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/arcadvise/arcadvise/internal/apply"
	"github.com/arcadvise/arcadvise/internal/arcstats"
	"github.com/arcadvise/arcadvise/internal/buildinfo"
	"github.com/arcadvise/arcadvise/internal/cli"
	"github.com/arcadvise/arcadvise/internal/declared"
	"github.com/arcadvise/arcadvise/internal/guard"
	"github.com/arcadvise/arcadvise/internal/host"
	"github.com/arcadvise/arcadvise/internal/metrics"
	"github.com/arcadvise/arcadvise/internal/modprobe"
	"github.com/arcadvise/arcadvise/internal/policy"
	"github.com/arcadvise/arcadvise/internal/report"
	"github.com/arcadvise/arcadvise/internal/rootfs"
	"github.com/arcadvise/arcadvise/internal/size"
	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// The guard (--guard pre-start|post-stop --guest KIND:ID) runs as a
// hypervisor's hook: Proxmox VE's hookscript (contrib/proxmox/arcadvise-hook)
// and libvirt's /etc/libvirt/hooks/qemu (contrib/libvirt/qemu). It must
// never be the reason a guest fails to start by accident: the whole run has
// a budget (ARCADVISE_GUARD_BUDGET, 2 s), any error of its own is logged and
// the start allowed, unless strict mode is set; it exits 0, or
// exitRefusedStart when it refuses a start. It writes nothing under /etc:
// a live zfs_arc_max (and zfs_arc_min first when it must go down), through
// the same plan and act as --live (refusals, read-back, undo), and its own
// textfile.

// guardStdin is where --guest-xml - reads; a test replaces it.
var guardStdin io.Reader = os.Stdin

// syslogSocketEnv names the socket the guard's log line is sent to instead
// of /dev/log: for tests only (a hook's environment is the hypervisor's,
// so the hooks never pass it).
const syslogSocketEnv = "ARCADVISE_SYSLOG_SOCKET"

// guardGate is one run's door, under actMu (which main's signal watchdog
// shares): acting is set when the run begins to act, abandoned when its
// budget ran out before: from then on it must not act (the run is
// reporting a timeout with nothing written).
type guardGate struct {
	acting, abandoned bool
	// stage is what the run is doing, for the timeout's message.
	stage string
}

// at records what the run is doing now.
func (g *guardGate) at(stage string) {
	actMu.Lock()
	g.stage = stage
	actMu.Unlock()
}

// enter is called just before the act: false when the run was abandoned.
func (g *guardGate) enter() bool {
	actMu.Lock()
	defer actMu.Unlock()
	if g.abandoned {
		return false
	}
	g.acting, acted = true, true
	return true
}

// guardOutcome is what the guard decided and did.
type guardOutcome struct {
	guest   guard.Guest // the kind resolved (pve → pve-qemu or pve-lxc)
	plan    guard.Plan
	err     error           // the guard's own error: decision Error (or Timeout)
	applied []apply.Applied // the live writes and their read-back
	notes   []string
	unlock  func() // releases the modprobe.d lock, once the textfile is written
}

// runGuard is the --guard mode. It returns the exit code: 0 (allowed, or
// post-stop), or exitRefusedStart.
func runGuard(ctx context.Context, o *cli.Options, stderr io.Writer) int {
	start := time.Now()
	lg := newGuardLog(stderr, o.GuardGuest, o.GuardPhase)
	defer lg.close()
	pol := guard.DefaultPolicy()
	fsys, err := openGuardRoot(o.Root)
	if err == nil {
		defer fsys.Close()
		var perr error
		if pol, perr = guard.ReadPolicy(fsys); perr != nil {
			lg.warn(fmt.Sprintf("%v: the defaults are used (strict no, budget %s, raise no)", perr, guard.DefaultBudget))
		}
		for _, w := range pol.Warnings {
			lg.warn(w)
		}
	}
	strict := o.GuardStrict || pol.Strict
	deadline := start.Add(pol.Budget)
	var tf *metrics.TextfileDir
	if dir := cmp.Or(o.Textfile, pol.TextfileDir); dir != "" {
		var terr error
		if tf, terr = metrics.OpenTextfileDir(dir); terr != nil {
			lg.warn(fmt.Sprintf("the textfile directory: %v: no metrics written", terr))
		} else {
			defer tf.Close()
		}
	}

	var out guardOutcome
	if err != nil {
		out.err = err
	} else {
		gate := &guardGate{}
		out = guardWithin(ctx, deadline, gate, func(ctx context.Context) guardOutcome {
			return guardDecide(ctx, fsys, o, pol, deadline, gate)
		})
	}
	d := out.plan.Decision
	if out.err != nil && d != guard.Timeout {
		d = guard.Error
	}
	allowed := guard.Allowed(o.GuardPhase, d, strict)
	if tf != nil { // under the lock: the count of lowered caps is read, then written
		n, rerr := tf.ReadGuardLowered()
		if rerr != nil {
			lg.warn(fmt.Sprintf("the previous count of lowered caps: %v: counting from 0", rerr))
		}
		if d == guard.Lowered {
			n++
		}
		if werr := tf.WriteGuard(metrics.GuardRegistry(metrics.GuardRun{Version: buildinfo.String(), Decision: d, At: time.Now(), LoweredTotal: n})); werr != nil {
			lg.warn(fmt.Sprintf("the guard's textfile: %v", werr))
		}
	}
	if out.unlock != nil {
		out.unlock()
	}
	// The cap lowered, the guest must find the memory free, not behind
	// reclaim: wait (after the lock, so that another guard is not held)
	// until the ARC has come down to it.
	if c := loweredTo(out); c > 0 && o.GuardPhase == guard.PreStart && pol.Settle > 0 && fsys != nil && liveRoot(o.Root) {
		st := guard.Settle(ctx, func() (uint64, error) { return arcSize(fsys) }, c, pol.Settle, guard.SettlePoll)
		out.notes = append(out.notes, st.String())
	}
	lg.decision(d, guardMessage(o, pol, strict, out, d, allowed), allowed)
	if !allowed {
		return exitRefusedStart
	}
	return exitOK
}

// guardWithin runs work with a deadline. When the deadline passes (or a
// signal comes) before work has begun to act, it returns a timeout at once
// and work may never act: whatever it is blocked on (a hung file system, a
// lock) is left behind with the process. Once work has begun to act, the
// act is waited for: it is bounded (a lock wait, a read-back) and must not
// be cut.
func guardWithin(ctx context.Context, deadline time.Time, gate *guardGate, work func(context.Context) guardOutcome) guardOutcome {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	done := make(chan guardOutcome, 1)
	go func() { done <- work(wctx) }()
	select {
	case out := <-done:
		return out
	case <-wctx.Done():
	}
	actMu.Lock()
	if gate.acting {
		actMu.Unlock()
		return <-done
	}
	gate.abandoned = true
	stage := gate.stage
	actMu.Unlock()
	return stopped(ctx, stage)
}

// loweredTo is the c_max a lowered decision left (what arcstats read back
// after the write), 0 when the run did not lower the cap.
func loweredTo(out guardOutcome) uint64 {
	if out.err != nil || out.plan.Decision != guard.Lowered {
		return 0
	}
	for _, a := range out.applied {
		if a.Field == "c_max" && a.Accepted {
			return a.After
		}
	}
	return 0
}

// liveRoot: the root is this host's "/", whose arcstats the kernel keeps
// up to date (a snapshot's never change: nothing to wait for there).
func liveRoot(dir string) bool {
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat("/")
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// arcSize is arcstats' size now.
func arcSize(fsys *rootfs.FS) (uint64, error) {
	st, err := arcstats.Read(fsys)
	if err != nil {
		return 0, err
	}
	n, ok := st.Uint("size")
	if !ok {
		return 0, fmt.Errorf("%s: no size", fsys.Path("proc/spl/kstat/zfs/arcstats"))
	}
	return n, nil
}

// stopped is the outcome of a run stopped before it acted, while at stage:
// by the budget (Timeout), or by a signal (Error).
func stopped(ctx context.Context, stage string) guardOutcome {
	if ctx.Err() != nil {
		return guardOutcome{plan: guard.Plan{Decision: guard.Error}, err: fmt.Errorf("%w while %s: nothing was written", context.Cause(ctx), stage)}
	}
	return guardOutcome{plan: guard.Plan{Decision: guard.Timeout}, err: fmt.Errorf("the budget ran out while %s", stage)}
}

var errBudget = errors.New("the budget ran out before a decision")

// openGuardRoot opens --root.
func openGuardRoot(dir string) (*rootfs.FS, error) {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--root %s: not a directory (%v)", dir, cmp.Or(err, errors.New("a file")))
	}
	return rootfs.Open(dir)
}

// guardDecide reads the host and the guests, decides, and acts: with the
// lock --write takes on /etc/modprobe.d held from before the first read to
// after the textfile is written (outcome.unlock), so that two guards (two
// guests starting at once) or a guard and a --write never decide on the
// same reading.
func guardDecide(ctx context.Context, fsys *rootfs.FS, o *cli.Options, pol guard.Policy, deadline time.Time, gate *guardGate) (out guardOutcome) {
	out.guest = o.GuardGuest
	fail := func(err error) guardOutcome {
		if errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			out.plan.Decision, out.err = guard.Timeout, fmt.Errorf("%w (%v)", errBudget, err)
			return out
		}
		out.err = err
		return out
	}
	waiting := "waiting for the lock on " + fsys.Path(modprobeDir) + " (another arcadvise --write or --guard holds it)"
	gate.at(waiting)
	unlock, err := lockModprobeD(fsys, deadline)
	if err != nil {
		if !time.Now().Before(deadline) {
			out.plan.Decision, out.err = guard.Timeout, errors.New("the budget ran out while "+waiting)
			return out
		}
		return fail(err)
	}
	out.unlock = unlock
	gate.at("reading the host under " + o.Root)
	snap, _, replay, err := readHost(ctx, fsys, o, io.Discard)
	switch {
	case err != nil:
		return fail(err)
	case replay:
		return fail(fmt.Errorf("%s is a recorded window: the guard acts on a live host or a snapshot root", o.Root))
	}
	if out.guest, err = resolveGuest(snap.FS, o.GuardGuest); err != nil {
		return fail(err)
	}
	var xml *declared.Guest
	if o.GuestXML == "-" {
		gate.at("reading " + guestXMLName)
		g, err := readGuestXML(ctx, o.GuardGuest.ID)
		if err != nil {
			return fail(err)
		}
		xml = &g
	}
	gate.at("reading what the host declares")
	auto, err := guardReservation(snap, o, out.guest, xml)
	if err != nil {
		return fail(err)
	}
	in := policy.Input{Host: snap, HostBase: o.HostBase.Bytes, HostBaseSet: o.HostBase.IsSet,
		BootArcMin: apply.BootArcMin(snap.Modprobe), BootArcMinSet: true, Reservations: o.Reserve.Reservations(snap.Mem.MemTotal, auto)}
	rec, err := policy.Recommend(in)
	if err != nil {
		return fail(err)
	}
	cMax, ok := snap.Arc.Uint("c_max")
	if !ok {
		return fail(fmt.Errorf("%s: no c_max", snap.FS.Path("proc/spl/kstat/zfs/arcstats")))
	}
	ceiling, ceilingSrc := nextBootArcMax(snap, &rec)
	out.plan, err = guard.Decide(guard.Input{Phase: o.GuardPhase, Strict: o.GuardStrict || pol.Strict, Raise: pol.Raise,
		Rec: &rec, CMax: cMax, Ceiling: ceiling, CeilingSource: ceilingSrc})
	if err != nil || out.plan.Target == 0 {
		out.err = err
		return out
	}
	recAct := rec
	if out.plan.Decision == guard.Raised {
		// The cap to raise to, checked as an admin's --arc-max is: the
		// module's rules, and a lower zfs_arc_min when it must go with it.
		in.ArcMax = out.plan.Target
		if recAct, err = policy.Recommend(in); err != nil {
			return fail(err)
		}
	}
	plan, err := apply.NewPlan(apply.Request{Mode: apply.Live}, snap, &recAct)
	if plan == nil {
		return fail(err)
	}
	if !gate.enter() {
		return fail(errBudget)
	}
	res, err := plan.Act(ctx)
	if res != nil {
		out.applied, out.notes = res.Applied, res.Notes
	}
	if errors.Is(err, apply.ErrInterrupted) {
		out.plan.Decision, out.err = guard.Timeout, fmt.Errorf("%w: nothing was written", errBudget)
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			out.plan.Decision, out.err = guard.Error, fmt.Errorf("%w: nothing was written", context.Cause(ctx))
		}
		return out
	}
	out.err = err
	return out
}

// modprobeDir is the directory whose lock --write takes (modprobe.Write).
const modprobeDir = "etc/modprobe.d"

// lockModprobeD takes the flock modprobe.Write takes on /etc/modprobe.d,
// waiting for another holder at most until the deadline. A host without
// the directory has nothing to serialize with: no lock.
func lockModprobeD(fsys *rootfs.FS, deadline time.Time) (func(), error) {
	d, err := fsys.OpenDir(modprobeDir)
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	unlock, err := d.Lock(max(time.Until(deadline), 0))
	if err != nil {
		d.Close()
		return nil, err
	}
	return func() { unlock(); d.Close() }, nil
}

// resolveGuest resolves pve:ID to pve-qemu or pve-lxc, by which config the
// root has (a VMID is unique across both in a cluster: pve-cluster's
// vmlist).
func resolveGuest(fsys *rootfs.FS, g guard.Guest) (guard.Guest, error) {
	if g.Kind != guard.PVE {
		return g, nil
	}
	var found []declared.Kind
	for _, c := range []struct {
		kind declared.Kind
		dir  string
	}{{declared.PVEQemu, "etc/pve/qemu-server"}, {declared.PVELXC, "etc/pve/lxc"}} {
		if _, err := fsys.Stat(path.Join(c.dir, g.ID+".conf")); err == nil {
			found = append(found, c.kind)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return g, err
		}
	}
	switch len(found) {
	case 0:
		return g, fmt.Errorf("pve %s: neither %s nor %s exists", g.ID, fsys.Path("etc/pve/qemu-server/"+g.ID+".conf"), fsys.Path("etc/pve/lxc/"+g.ID+".conf"))
	case 2:
		return g, fmt.Errorf("pve %s: both a VM and a container config exist (%s, %s)", g.ID, fsys.Path("etc/pve/qemu-server/"+g.ID+".conf"), fsys.Path("etc/pve/lxc/"+g.ID+".conf"))
	}
	return guard.Guest{Kind: found[0], ID: g.ID}, nil
}

// guestXMLName names libvirt's XML on stdin in messages.
const guestXMLName = "the domain XML on stdin"

// readGuestXML reads the domain XML libvirt gives its hook on stdin, at
// most declared.MaxLibvirtXML bytes and within the budget (a stdin that is
// never closed is left behind), and parses it as a definition file is.
func readGuestXML(ctx context.Context, name string) (declared.Guest, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(io.LimitReader(guardStdin, declared.MaxLibvirtXML+1))
		ch <- result{b, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		return declared.Guest{}, fmt.Errorf("reading %s: %w", guestXMLName, context.Cause(ctx))
	}
	if r.err != nil {
		return declared.Guest{}, fmt.Errorf("reading %s: %w", guestXMLName, r.err)
	}
	if len(r.b) > declared.MaxLibvirtXML {
		return declared.Guest{}, fmt.Errorf("%s: larger than %d bytes", guestXMLName, declared.MaxLibvirtXML)
	}
	g, err := declared.ParseLibvirt(bytes.NewReader(r.b), guestXMLName)
	if err != nil {
		return g, err
	}
	if g.ID != name {
		return g, fmt.Errorf("%s is domain %q, not %q (--guest)", guestXMLName, g.ID, name)
	}
	g.Running = false // the definition about to start, or just stopped
	return g, nil
}

// guardReservation reads what the host declares, marks the guest starting
// (pre-start: it counts in full, whatever --guests says) or stopping
// (post-stop: it counts 0), and counts. xml is the libvirt domain given on
// stdin: it is the definition starting (a transient domain has no file;
// a persistent one's file may hold edits for its next start), so it
// replaces what the files say of the same domain, keeping the file's path
// and autostart. A guest the files and stdin do not declare is an error at
// pre-start (it could not be counted) and nothing at post-stop (it counts 0
// either way).
func guardReservation(snap *host.Snapshot, o *cli.Options, g guard.Guest, xml *declared.Guest) (*policy.Reservation, error) {
	gs, err := declared.Read(snap.FS)
	if err != nil {
		return nil, err
	}
	hp, err := declared.ReadHugePages(snap.FS, snap.Mem.Hugepagesize)
	if err != nil {
		return nil, err
	}
	i := findGuest(gs, g, xml)
	switch {
	case xml != nil && i >= 0:
		x := *xml
		x.Path, x.OnBoot = gs[i].Path, gs[i].OnBoot
		gs[i] = x
	case xml != nil:
		gs = append(gs, *xml)
		i = len(gs) - 1
	case i < 0 && o.GuardPhase == guard.PreStart:
		return nil, fmt.Errorf("%s %s: the host declares no such guest under %s", g.Kind, g.ID, snap.Root)
	}
	if i >= 0 {
		gs[i].Running = false
		gs[i].Starting = o.GuardPhase == guard.PreStart
		gs[i].Stopping = o.GuardPhase == guard.PostStop
	}
	gs = declared.Count(gs, o.Guests, declared.Host{MemTotal: snap.Mem.MemTotal, HugePages: hp})
	return &policy.Reservation{Label: cli.AutoLabel, Bytes: declared.Sum(gs), Source: autoSource(gs, o.Guests)}, nil
}

// findGuest is the index of the guest in gs, or -1: by kind and ID, and
// for libvirt by the UUID of the XML given (libvirt's own key) too.
func findGuest(gs []declared.Guest, g guard.Guest, xml *declared.Guest) int {
	for i, x := range gs {
		if x.Source != g.Kind {
			continue
		}
		if x.ID == g.ID || xml != nil && xml.UUID != "" && strings.EqualFold(x.UUID, xml.UUID) {
			return i
		}
	}
	return -1
}

// nextBootArcMax is the c_max the next module load sets: the effective
// zfs_arc_max of modprobe.d or the kernel command line, or, when none is
// set (or 0, or not a number the kernel reads), the module's default for
// this release and memory (policy.DefaultCMax, in rec). The raise at
// post-stop never goes above it: a live value above it would hold only
// until the next boot, and is more than the admin configured.
func nextBootArcMax(snap *host.Snapshot, rec *policy.Recommendation) (uint64, string) {
	if s, ok := snap.Modprobe.Effective(zfsmod.ArcMax); ok {
		if v, err := modprobe.ParseValue(s.Value); err == nil && v != 0 {
			return v, "zfs_arc_max=" + s.Value + " at " + s.Where()
		}
	}
	return rec.DefaultCMax, "no zfs_arc_max is set: the module's default c_max"
}

// guardMessage is the decision's log line, after "guard KIND:ID PHASE: ":
// the decision, what it rests on (or the error), the live writes with
// what arcstats read back, the notes, and whether the start is allowed.
func guardMessage(o *cli.Options, pol guard.Policy, strict bool, out guardOutcome, d guard.Decision, allowed bool) string {
	var b strings.Builder
	b.WriteString(string(d))
	switch {
	case out.err != nil && d == guard.Timeout:
		fmt.Fprintf(&b, ": %v within the %s budget (ARCADVISE_GUARD_BUDGET); nothing was written", out.err, pol.Budget)
	case out.err != nil && out.plan.Target != 0:
		fmt.Fprintf(&b, ": %s, so zfs_arc_max was to go to %s (%d): %v", out.plan.Why, size.Format(out.plan.Target), out.plan.Target, out.err)
	case out.err != nil:
		fmt.Fprintf(&b, ": %v", out.err)
	case out.plan.Why != "":
		fmt.Fprintf(&b, ": %s", out.plan.Why)
	}
	if out.guest != o.GuardGuest && out.guest.Kind != "" {
		fmt.Fprintf(&b, " (%s is %s)", o.GuardGuest, out.guest)
	}
	for _, a := range out.applied {
		fmt.Fprintf(&b, "; %s=%d (%s): arcstats %s %d → %d", a.Param, a.Value, size.Format(a.Value), a.Field, a.Before, a.After)
	}
	for _, n := range out.notes {
		fmt.Fprintf(&b, "; %s", strings.TrimSuffix(n, "."))
	}
	if o.GuardPhase == guard.PreStart {
		switch {
		case !allowed:
			b.WriteString("; the start is refused (strict mode)")
		case d == guard.Overcommitted || (!strict && (d == guard.Error || d == guard.Timeout)):
			b.WriteString("; the start is allowed (ARCADVISE_GUARD_STRICT=yes or --guard-strict refuses it)")
		default:
			b.WriteString("; the start is allowed")
		}
	}
	return b.String()
}

// guardLog writes the guard's lines to stderr (the Proxmox VE task log,
// libvirt's error) and, one line per decision, to syslog through /dev/log
// (journald's syslog socket on a systemd host, rsyslog's elsewhere); when
// there is none, to stderr only.
type guardLog struct {
	stderr io.Writer
	prefix string
	sys    *syslog.Writer
}

func newGuardLog(stderr io.Writer, g guard.Guest, phase guard.Phase) *guardLog {
	l := &guardLog{stderr: stderr, prefix: "guard " + g.String() + " " + string(phase) + ": "}
	sock := cmp.Or(os.Getenv(syslogSocketEnv), "/dev/log")
	if w, err := syslog.Dial("unixgram", sock, syslog.LOG_DAEMON|syslog.LOG_INFO, "arcadvise"); err == nil {
		l.sys = w
	}
	return l
}

func (l *guardLog) close() {
	if l.sys != nil {
		l.sys.Close()
	}
}

// warn is a remark beside the decision (a malformed policy file): stderr
// and syslog, at warning.
func (l *guardLog) warn(msg string) {
	fmt.Fprintf(l.stderr, "arcadvise: %swarning: %s\n", l.prefix, msg)
	if l.sys != nil {
		l.sys.Warning(report.Sanitize(l.prefix + "warning: " + msg))
	}
}

// decision logs the decision: info when all went as planned, warning when
// the guest starts without the room it needs or the guard could not
// decide, err when a start is refused.
func (l *guardLog) decision(d guard.Decision, msg string, allowed bool) {
	fmt.Fprintf(l.stderr, "arcadvise: %s%s\n", l.prefix, msg)
	if l.sys == nil {
		return
	}
	line := report.Sanitize(l.prefix + msg)
	switch {
	case !allowed:
		l.sys.Err(line)
	case d == guard.Overcommitted || d == guard.Error || d == guard.Timeout:
		l.sys.Warning(line)
	default:
		l.sys.Info(line)
	}
}
