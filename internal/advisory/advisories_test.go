package advisory

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/arcadvise/arcadvise/internal/zfsmod"
)

// The hosts the advisory tests look at.
var (
	// nothing read: no parameter, no kernel release (an old snapshot).
	factsNone = Facts{}
	// a stock host: the parameters at their defaults of 2.0–2.2, kernel 6.1.
	factsQuiet = Facts{Params: map[string]string{zfsmod.MetaLimitPercent: "75", zfsmod.PCPercent: "0", zfsmod.ShrinkerLimit: "10000"}, Kernel: "6.1.0-57-amd64"}
	// the same with the shrinker-limit workaround set.
	factsWork = Facts{Params: map[string]string{zfsmod.MetaLimitPercent: "75", zfsmod.PCPercent: "0", zfsmod.ShrinkerLimit: "0"}, Kernel: "6.1.0-57-amd64"}
	// every conditional row applies: an L2ARC, meta limit 100, pc_percent
	// 10, kernel 6.8.
	factsAll = Facts{L2ARC: true, Params: map[string]string{zfsmod.MetaLimitPercent: "100", zfsmod.PCPercent: "10", zfsmod.ShrinkerLimit: "10000"}, Kernel: "6.8.12-4-pve"}
	// factsAll with the workaround.
	factsAllWork = Facts{L2ARC: true, Params: map[string]string{zfsmod.MetaLimitPercent: "100", zfsmod.PCPercent: "10", zfsmod.ShrinkerLimit: "0"}, Kernel: "6.8.12-4-pve"}
)

func row(t *testing.T, n int) Advisory {
	t.Helper()
	for _, a := range advisories {
		if a.Mentions(n) {
			return a
		}
	}
	t.Fatalf("no row cites #%d", n)
	return Advisory{}
}

// TestReleaseTags: Releases are the release tags of the openzfs/zfs mirror
// from 0.6.5 to 2.4.4 (testdata/zfs-release-tags.txt is its tag list).
func TestReleaseTags(t *testing.T) {
	f, err := os.Open("testdata/zfs-release-tags.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want []zfsmod.Version
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		tag := sc.Text()
		if strings.HasPrefix(tag, "#") || strings.Contains(tag, "-rc") {
			continue
		}
		v, err := zfsmod.ParseVersion(strings.NewReader(strings.TrimPrefix(tag, "zfs-")))
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		// 0.6.3-1.x are packaging respins of 0.6.3, x.99 are development
		// tags; the model starts at 0.6.5.
		if strings.Contains(tag, "0.6.3-") || v.Patch == 99 || !v.AtLeast(zfsmod.V(0, 6, 5)) {
			continue
		}
		want = append(want, zfsmod.V(v.Major, v.Minor, v.Patch, v.Fix))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(Releases) {
		t.Fatalf("%d release tags from 0.6.5 on, Releases has %d", len(want), len(Releases))
	}
	for i := range want {
		if want[i].Compare(Releases[i]) != 0 {
			t.Errorf("release %d: tag %s, Releases %s", i, want[i], Releases[i])
		}
	}
	if LastChecked().String() != "2.4.4" {
		t.Errorf("LastChecked = %s, want 2.4.4", LastChecked())
	}
}

// TestReferenceTypes: every reference of every row is in
// testdata/references.tsv with the same type (issue, PR, or unchecked),
// and the table lists nothing no row cites.
func TestReferenceTypes(t *testing.T) {
	f, err := os.Open("testdata/references.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kinds := map[string]RefKind{"issue": KindIssue, "pr": KindPR, "unchecked": KindUnchecked}
	table := map[[2]string]RefKind{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, "repo\t") || l == "" {
			continue
		}
		cols := strings.Split(l, "\t")
		if len(cols) != 4 || cols[3] == "" {
			t.Fatalf("references.tsv:%d: want repo, number, kind and evidence: %q", line, l)
		}
		k, ok := kinds[cols[2]]
		if _, err := strconv.Atoi(cols[1]); err != nil || !ok {
			t.Fatalf("references.tsv:%d: bad number or kind: %q", line, l)
		}
		key := [2]string{cols[0], cols[1]}
		if _, dup := table[key]; dup {
			t.Fatalf("references.tsv:%d: %s#%s twice", line, cols[0], cols[1])
		}
		table[key] = k
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	used := map[[2]string]bool{}
	for _, a := range advisories {
		if len(a.Refs) == 0 {
			t.Errorf("row without references: %s", a.Summary)
		}
		for _, r := range a.Refs {
			key := [2]string{r.Repo, strconv.Itoa(r.Num)}
			used[key] = true
			k, ok := table[key]
			switch {
			case !ok:
				t.Errorf("%s: %s is not in references.tsv", a.Summary, r)
			case k != r.Kind:
				t.Errorf("%s: %s is a %s in references.tsv", a.Summary, r, k)
			}
		}
	}
	for key := range table {
		if !used[key] {
			t.Errorf("references.tsv lists %s#%s, which no row cites", key[0], key[1])
		}
	}
	// The corrections of issue 22, by hand: these are pull requests.
	for _, n := range []int{16313, 16909, 16401, 12054, 17071, 10496, 10600, 10575, 17542} {
		for _, a := range advisories {
			for _, r := range a.Refs {
				if r.Repo == "zfs" && r.Num == n && r.Kind != KindPR {
					t.Errorf("#%d is cited as %s, it is a pull request", n, r.Kind)
				}
			}
		}
	}
	if got := row(t, 17542).References(); got != "issue #17487, PR #17542" {
		t.Errorf("dnode row references %q", got)
	}
	if got := row(t, 4111).References(); got != "issue #3808, issue #3867, spl PR #515, PR #4111" {
		t.Errorf("R2 references %q", got)
	}
	if got := row(t, 3834).References(); got != "issue #3822, #3834" {
		t.Errorf("R1 references %q (the type of #3834 is unchecked: printed bare)", got)
	}
}

// TestAdvisoryRanges: the affected releases of the rows issue 22 added,
// worked out by hand from the first tags that carry the fixes.
func TestAdvisoryRanges(t *testing.T) {
	for _, tt := range []struct {
		ref            int
		affects, fixed string
	}{
		// 0f8a1105ee and its backports: 2.2.9, 2.3.4, 2.4.0; from 0.7.0
		// (d3c2ae1c08); never on 2.1, 2.0, 0.8, 0.7.
		{17561, "0.7.0–2.2.8, 2.3.0–2.3.3", "2.2.9 (2.2.x), 2.3.4 (2.3.x), 2.4.0"},
		// from 0.7.0 (03b60eee78); 2.2.8, 2.3.3, 2.4.0.
		{17334, "0.7.0–2.2.7, 2.3.0–2.3.2", "2.2.8 (2.2.x), 2.3.3 (2.3.x), 2.4.0"},
		// Linux 6.7 support came in 2.1.15 and 2.2.3; the working fix in
		// 2.2.8, 2.3.2, 2.4.0; 2.1 never got one.
		{17121, "2.1.15–2.1.16, 2.2.3–2.2.7, 2.3.0–2.3.1", "2.2.8 (2.2.x), 2.3.2 (2.3.x), 2.4.0"},
		// posix_fadvise came in 2.2.0; the fix is on master only.
		{15776, "2.2.0 and later", "no release up to 2.4.4 (master has 73b202451e)"},
		// never on 2.2.
		{16313, "2.0.0–2.2.11", "2.3.0"},
	} {
		a := row(t, tt.ref)
		if got := a.Range(); got != tt.affects {
			t.Errorf("#%d affects %q, want %q", tt.ref, got, tt.affects)
		}
		if got := a.FixedIn(); got != tt.fixed {
			t.Errorf("#%d fixed in %q, want %q", tt.ref, got, tt.fixed)
		}
	}
	if row(t, 15776).Released() {
		t.Error("#15776 has no released fix")
	}
}

// TestAdvisoryAnswers: the rows and the upgrade answer for hosts worked
// out by hand from the table.
func TestAdvisoryAnswers(t *testing.T) {
	const limit0 = zfsmod.ShrinkerLimit + "=0"
	for _, tt := range []struct {
		name  string
		v     zfsmod.Version
		f     Facts
		rows  []int // a number each listed row cites, in table order
		up    string
		keep  []string
		cover []int // rows marked covered
	}{
		// dnode bug (2.3.4), #17210 (2.3.3), #17561 (2.3.4), #15776; pc_percent
		// is 0, #17121 is fixed in 2.3.2.
		{"2.3.2 stock", v(2, 3, 2), factsQuiet, []int{17487, 17210, 17561, 15776}, "2.3.4", nil, nil},
		// pc_percent not read: #17334 is listed in case it is above 0.
		{"2.3.2 nothing read", v(2, 3, 2), factsNone, []int{17487, 17210, 17561, 17334, 15776}, "2.3.4", nil, nil},
		// #16197 and the shrinker limit (never on 2.1), #17561 (never on 2.1);
		// every 2.2 keeps the shrinker limit, 2.3.0–2.3.3 the dnode bug.
		{"2.1.11 stock", v(2, 1, 11), factsQuiet, []int{16197, 16313, 17561}, "2.3.4", nil, nil},
		// With the limit at 0, 2.2.9 fixes all the rest.
		{"2.1.11 with the workaround", v(2, 1, 11), factsWork, []int{16197, 16313, 17561}, "2.2.9", []string{limit0}, []int{16313}},
		// 2.2.9 with the workaround: covered, no branch change.
		{"2.2.9 with the workaround", v(2, 2, 9), factsWork, []int{16313, 15776}, "2.2.9", []string{limit0}, []int{16313}},
		{"2.2.11 with the workaround", v(2, 2, 11), factsWork, []int{16313, 15776}, "2.2.11", []string{limit0}, []int{16313}},
		{"2.2.9 stock", v(2, 2, 9), factsQuiet, []int{16313, 15776}, "2.3.4", nil, nil},
		// kernel 6.8 and pc_percent 10 bring #17121 and #17334; the
		// workaround still lands on 2.2.9 (they are fixed in 2.2.8).
		{"2.2.4 everything, workaround", v(2, 2, 4), factsAllWork, []int{16197, 16313, 16401, 16521, 17210, 17561, 17334, 17121, 15776}, "2.2.9", []string{limit0}, []int{16313}},
		{"2.1.15 everything", v(2, 1, 15), factsAll, []int{16197, 16313, 17561, 17334, 17121}, "2.3.4", nil, nil},
		{"2.4.0", v(2, 4, 0), factsQuiet, []int{15776}, "2.4.0", nil, nil},
		// The seed: with nothing read, the kernel-bound rows (3.9–3.17,
		// 4.8+) are listed; on kernel 6.1 the 3.9–3.17 one is not.
		{"0.6.5.3 nothing read", v(0, 6, 5, 3), factsNone, []int{3808, 3904, 4726, 6659, 7170, 10575, 9966}, "2.3.4", nil, nil},
		{"0.6.5.3 kernel 6.1", v(0, 6, 5, 3), factsQuiet, []int{3904, 4726, 6659, 7170, 10575, 9966}, "2.3.4", nil, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := AdvisoriesFor(tt.v, tt.f)
			var gotRows []int
			var covered []int
			for _, g := range got {
				for _, n := range tt.rows {
					if g.Mentions(n) {
						gotRows = append(gotRows, n)
					}
				}
				if g.Covered {
					for _, n := range tt.cover {
						if g.Mentions(n) {
							covered = append(covered, n)
						}
					}
				}
			}
			if len(got) != len(tt.rows) || !slices.Equal(gotRows, tt.rows) {
				var all []string
				for _, g := range got {
					all = append(all, g.References())
				}
				t.Errorf("rows %q, want rows citing %v", all, tt.rows)
			}
			if !slices.Equal(covered, tt.cover) {
				t.Errorf("covered %v, want %v", covered, tt.cover)
			}
			u, ok := UpgradeFor(tt.v, tt.f)
			if !ok || u.To.String() != tt.up || !slices.Equal(u.Keep, tt.keep) {
				t.Errorf("upgrade %s keeping %q (%v), want %s keeping %q", u.To, u.Keep, ok, tt.up, tt.keep)
			}
			if len(u.Unfixed) != 1 || !u.Unfixed[0].Mentions(15776) {
				t.Errorf("unfixed in %s: %v, want #15776 alone", u.To, u.Unfixed)
			}
		})
	}
	// A row whose condition could not be read says which part.
	for _, g := range AdvisoriesFor(v(2, 3, 2), factsNone) {
		if g.Mentions(17334) && (len(g.Unchecked) != 1 || !strings.Contains(g.Unchecked[0], "zfs_arc_pc_percent was not read")) {
			t.Errorf("#17334 unchecked %q", g.Unchecked)
		}
	}
	// Newer than the table: nothing is asserted about it.
	if u, ok := UpgradeFor(v(2, 4, 5), factsQuiet); !ok || !u.Beyond || u.To.String() != "2.4.5" {
		t.Errorf("2.4.5: %+v %v", u, ok)
	}
	if _, ok := UpgradeFor(zfsmod.Version{}, factsQuiet); ok {
		t.Error("an unknown version got upgrade advice")
	}
	// An L2ARC bug is listed only with an L2ARC device.
	for _, a := range AdvisoriesFor(v(2, 3, 0), Facts{}) {
		if a.Needs == L2ARC {
			t.Errorf("L2ARC row without an L2ARC: %s", a.Summary)
		}
	}
	// No 32-bit-only bug: #3973 (a NULL dereference fixed inside #ifdef _ILP32).
	for _, a := range advisories {
		if a.Mentions(3973) || strings.Contains(a.Summary, "NULL dereference") {
			t.Errorf("32-bit-only row: %+v", a)
		}
	}
}

// TestUpgradeEveryRelease: for every release from 0.6.5 to 2.4.4 and each
// kind of host, the upgrade answer is a release that no bug with a released
// fix affects (unless the host has its workaround set), on the running
// branch when that branch has one, and no earlier release after the
// running one would do; the workaround rule keeps a 2.2 host with
// zfs_arc_shrinker_limit=0 on 2.2; the parameter-gated rows follow their
// parameter; and every answer says that #15776 has no released fix.
func TestUpgradeEveryRelease(t *testing.T) {
	hosts := map[string]Facts{"nothing read": factsNone, "stock": factsQuiet, "workaround": factsWork, "everything": factsAll, "everything, workaround": factsAllWork}
	v229, v234 := v(2, 2, 9), v(2, 3, 4)
	for name, f := range hosts {
		for _, r := range Releases {
			u, ok := UpgradeFor(r, f)
			if !ok {
				t.Errorf("%s, %s: no release is free of the known bugs", name, r)
				continue
			}
			if !u.To.AtLeast(r) {
				t.Errorf("%s, %s: upgrade to an older %s", name, r, u.To)
			}
			for _, a := range advisories {
				if a.blocks(u.To, f) {
					t.Errorf("%s, %s: upgrade to %s, which carries %q (%s)", name, r, u.To, a.Summary, a.References())
				}
			}
			for _, q := range Releases {
				if q.AtLeast(r) && !q.AtLeast(u.To) && !slices.ContainsFunc(advisories, func(a Advisory) bool { return a.blocks(q, f) }) {
					t.Errorf("%s, %s: upgrade to %s, but %s is free of them too", name, r, u.To, q)
				}
			}
			if !slices.ContainsFunc(advisories, func(a Advisory) bool { return a.blocks(r, f) }) && u.To.Compare(r) != 0 {
				t.Errorf("%s, %s is free of the known bugs, yet the advice is %s", name, r, u.To)
			}
			// Every answer names #15776, fixed in no release.
			if !slices.ContainsFunc(u.Unfixed, func(a Finding) bool { return a.Mentions(15776) && !a.Released() }) {
				t.Errorf("%s, %s: the answer (%s) does not say #15776 has no released fix", name, r, u.To)
			}
			// Keep is exactly the workarounds of the covered rows of the target.
			var keep []string
			for _, a := range advisories {
				if a.Released() && a.Affects(u.To) && a.applies(f) && a.covered(f) {
					keep = append(keep, a.Workaround)
				}
			}
			if !slices.Equal(keep, u.Keep) {
				t.Errorf("%s, %s: keep %q, want %q", name, r, u.Keep, keep)
			}
			// The workaround rule: a 2.2 host with the limit at 0 stays on
			// 2.2, at 2.2.9 or later; without it every 2.2 goes to 2.3.4.
			if r.Major == 2 && r.Minor == 2 {
				want := v234
				if f.Params[zfsmod.ShrinkerLimit] == "0" {
					want = v229
					if r.AtLeast(v229) {
						want = r
					}
				}
				if u.To.Compare(want) != 0 {
					t.Errorf("%s, %s: upgrade to %s, want %s", name, r, u.To, want)
				}
			}
			// The gated rows follow their parameter and the kernel.
			for _, g := range AdvisoriesFor(r, f) {
				if g.Needs == PCPercent && f.Params[zfsmod.PCPercent] == "0" {
					t.Errorf("%s, %s: #17334 listed with zfs_arc_pc_percent=0", name, r)
				}
				if g.Mentions(17121) && f.Kernel == factsQuiet.Kernel {
					t.Errorf("%s, %s: #17121 listed on kernel 6.1", name, r)
				}
				if (g.Needs == PCPercent || !g.Kernel.any()) && f.Kernel == "" && len(g.Unchecked) == 0 {
					t.Errorf("%s, %s: %s listed without saying what was not checked", name, r, g.References())
				}
			}
			pc := row(t, 17334)
			if listed := slices.ContainsFunc(AdvisoriesFor(r, f), func(g Finding) bool { return g.Mentions(17334) }); (name == "everything" || name == "everything, workaround") && listed != pc.Affects(r) {
				t.Errorf("%s, %s: #17334 listed %v, affects %v", name, r, listed, pc.Affects(r))
			}
		}
	}
}

// TestDocsListEveryRow: docs/advisories.md §6 has a row for every advisory,
// found by its R numbers and references, with its affected releases and
// every commit its evidence names.
func TestDocsListEveryRow(t *testing.T) {
	b, err := os.ReadFile("../../docs/advisories.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n## 6. The table as it stands")
	if i < 0 {
		t.Fatal("docs/advisories.md has no §6")
	}
	var rows []string
	for _, l := range strings.Split(doc[i:], "\n") {
		if regexp.MustCompile(`^\| R\d`).MatchString(l) {
			rows = append(rows, l)
		}
	}
	ids := regexp.MustCompile(`R\d+(, R\d+)?$`)
	hexes := regexp.MustCompile(`\b[0-9a-f]{10,12}\b`)
	for _, a := range advisories {
		id := ids.FindString(a.Evidence)
		if id == "" {
			t.Errorf("%s: no R number at the end of its evidence %q", a.References(), a.Evidence)
			continue
		}
		var row string
		for _, r := range rows {
			cells := strings.Split(r, "|")
			if len(cells) > 3 && strings.TrimSpace(cells[1]) == id && strings.TrimSpace(cells[2]) == a.References() {
				row = r
			}
		}
		if row == "" {
			t.Errorf("§6 has no row %s with references %q", id, a.References())
			continue
		}
		if !strings.Contains(row, a.Range()) {
			t.Errorf("§6 row %s does not say it affects %s: %s", id, a.Range(), row)
		}
		for _, h := range hexes.FindAllString(a.Evidence, -1) {
			if !strings.Contains(row, h) {
				t.Errorf("§6 row %s lacks commit %s: %s", id, h, row)
			}
		}
	}
	if len(rows) != len(advisories) {
		t.Errorf("§6 has %d rows, the table %d", len(rows), len(advisories))
	}
}

// Mentions reports whether the advisory cites openzfs/zfs number n.
func (a Advisory) Mentions(n int) bool {
	for _, r := range a.Refs {
		if r.Repo == "zfs" && r.Num == n {
			return true
		}
	}
	return false
}
