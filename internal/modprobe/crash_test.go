package modprobe

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcadvise/arcadvise/internal/testutil"
)

// crashRootEnv makes TestCrashChild the writer process of TestCrashWrite.
const crashRootEnv = "ARCADVISE_MODPROBE_CRASH_ROOT"

// The two contents the writer alternates between. They keep a comment, a
// shared line and a trailing blank line so that a partial write would show.
const (
	crashA = "# ARC limits\noptions zfs l2arc_noprefetch=0 zfs_arc_max=4294967296 zfs_txg_timeout=10\noptions zfs zfs_arc_min=1073741824\n\n"
	crashB = "# ARC limits\noptions zfs l2arc_noprefetch=0 zfs_arc_max=17179869184 zfs_txg_timeout=10\noptions zfs zfs_arc_min=2147483648\n\n"
)

var crashChanges = [2][]Change{
	{maxc(4 * gib), minc(1 * gib)},
	{maxc(16 * gib), minc(2 * gib)},
}

// TestCrashChild is the writer of TestCrashWrite: with crashRootEnv set it
// loads, plans and writes in a loop, alternating between the two change
// sets, until it is killed. Run normally it does nothing.
func TestCrashChild(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		return
	}
	fmt.Println("ready")
	for i := 1; ; i++ {
		c, err := Load(testutil.OpenRoot(t, root))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		e, err := c.Plan(crashChanges[i%2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if _, _, err := Write(e, open); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
}

// TestCrashWrite kills a writing process with SIGKILL at random points,
// 200 times, and checks after each kill that the file is exactly the old
// or the new content, that the backup is one of them too, and that no
// other .conf file (a partial temporary file modprobe would read) exists.
func TestCrashWrite(t *testing.T) {
	const kills = 200
	root := mkroot(t,
		file("/etc/modprobe.d/zfs.conf", crashA),
		file("/etc/modprobe.d/other.conf", "options spl spl_hostid=0x1\n"),
	)
	// The contents Plan produces for the two change sets are exactly
	// crashA and crashB.
	for i, want := range []string{crashA, crashB} {
		r := mkroot(t, file("/etc/modprobe.d/zfs.conf", crashA))
		_, e := plan(t, r, crashChanges[i]...)
		if string(e.New) != want {
			t.Fatalf("plan %d gives %q", i, e.New)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	target := filepath.Join(root, "etc/modprobe.d/zfs.conf")
	// The kills fall within a few whole writes as this machine does them
	// now: one write (two fsyncs) is timed first. A fixed 4 ms was too
	// short on a busy 2-core CI machine, where no kill of 200 came after
	// the first rename.
	first := crashStart(t, root)
	t0 := time.Now()
	for {
		if got, _ := os.ReadFile(target); string(got) == crashB {
			break
		}
		if time.Since(t0) > 20*time.Second {
			t.Fatalf("the writer did not write in 20 s")
		}
		time.Sleep(50 * time.Microsecond)
	}
	one := time.Since(t0)
	span := max(4*time.Millisecond, 3*one)
	first.stop(t)
	t.Logf("one write took %v; kills within %v of the writer's start", one.Round(time.Microsecond), span.Round(time.Microsecond))
	seen := map[string]int{}
	start := time.Now()
	for k := 0; k < kills; k++ {
		child := crashStart(t, root)
		time.Sleep(time.Duration(rng.Int64N(int64(span))))
		child.stop(t)

		got, err := os.ReadFile(target)
		if err != nil {
			t.Fatalf("kill %d: %v", k, err)
		}
		if s := string(got); s != crashA && s != crashB {
			t.Fatalf("kill %d: target is neither old nor new content:\n%q", k, s)
		}
		seen[string(got)]++
		// Every backup is a whole content, the first is the original, and
		// the series keeps at most 1 + BackupsKept, and one more taken by
		// a write that was killed before it renamed.
		bks, _ := filepath.Glob(target + BackupSuffix + ".*")
		for _, b := range bks {
			bk, err := os.ReadFile(b)
			if err != nil {
				t.Fatalf("kill %d: %v", k, err)
			}
			if s := string(bk); s != crashA && s != crashB {
				t.Fatalf("kill %d: backup %s is neither old nor new content:\n%q", k, filepath.Base(b), s)
			}
		}
		if first, err := os.ReadFile(target + BackupSuffix + ".1"); err == nil && string(first) != crashA {
			t.Fatalf("kill %d: the first backup no longer holds the original", k)
		}
		if len(bks) > 2+BackupsKept {
			t.Fatalf("kill %d: %d backups, want at most %d", k, len(bks), 2+BackupsKept)
		}
		assertNoStrayConf(t, root, "zfs.conf", "other.conf")
		c, err := Load(testutil.OpenRoot(t, root))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Warnings) != 0 {
			t.Fatalf("kill %d: warnings %v", k, c.Warnings)
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "etc/modprobe.d/.*"))
	t.Logf("%d kills in %v; target held A %d times, B %d times; %d temporary files left (none read by modprobe)",
		kills, time.Since(start).Round(time.Millisecond), seen[crashA], seen[crashB], len(leftovers))
	if seen[crashA] == 0 || seen[crashB] == 0 {
		t.Errorf("the kills never caught one of the two states (A %d, B %d): the writer did not run", seen[crashA], seen[crashB])
	}
}

// crashChild is a running TestCrashChild writer.
type crashChild struct {
	cmd    *exec.Cmd
	stderr *strings.Builder
}

// crashStart starts the writer on root and waits until it says ready.
func crashStart(t *testing.T, root string) crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v %s", line, err, stderr.String())
	}
	return crashChild{cmd, stderr}
}

// stop kills the writer with SIGKILL; it must not have ended by itself.
func (c crashChild) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	if !strings.Contains(fmt.Sprint(err), "killed") {
		t.Fatalf("child ended before the kill: %v\n%s", err, c.stderr.String())
	}
}
