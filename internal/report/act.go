package report

import (
	"fmt"
	"io"
)

// WriteCheck writes the result of --check: one line when the next-boot
// configuration and the running module match the recommendation, else one
// line per drift.
func (r *Report) WriteCheck(w io.Writer) error {
	if len(r.Config.Drift) == 0 {
		_, err := fmt.Fprintf(w, "ok: zfs_arc_max=%d is configured for next boot and in effect (c_max)\n", r.Recommendation.ArcMax)
		return err
	}
	for _, d := range r.Config.Drift {
		if _, err := fmt.Fprintf(w, "drift: %s\n", d); err != nil {
			return err
		}
	}
	return nil
}

// WriteActed writes what --write and --live did: the file written (or
// that nothing needed writing), each value applied live and whether the
// module took it, the diff when asked for or when the file changed, and
// the next steps.
func (r *Report) WriteActed(w io.Writer, wrote bool) error {
	c := r.Config
	if c.Interrupted == "before" {
		_, err := fmt.Fprintln(w, "interrupted before the first write: nothing was written or applied")
		return err
	}
	switch {
	case !wrote:
	case c.Wrote == "":
		fmt.Fprintf(w, "%s already has the recommended values: nothing written\n", c.TargetFile)
	case c.Backup != "":
		fmt.Fprintf(w, "wrote %s (the previous content is in %s)\n", c.Wrote, c.Backup)
	default:
		fmt.Fprintf(w, "wrote %s (a new file)\n", c.Wrote)
	}
	for _, a := range c.Applied {
		if a.Accepted {
			fmt.Fprintf(w, "live: %s=%d accepted: arcstats %s %d → %d\n", a.Param, a.Value, a.Field, a.Before, a.After)
		} else {
			fmt.Fprintf(w, "live: %s=%d ignored by the module: arcstats %s is still %d\n", a.Param, a.Value, a.Field, a.After)
		}
	}
	for _, n := range c.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if c.Interrupted == "after" {
		fmt.Fprintln(w, "interrupted after the first write: arcadvise finished the change rather than leave it half done")
	}
	if c.Wrote != "" {
		io.WriteString(w, c.Diff)
	}
	for i, s := range c.NextSteps {
		if i == 0 {
			fmt.Fprintln(w, "Next steps:")
		}
		if _, err := fmt.Fprintf(w, "  %d. %s\n", i+1, s); err != nil {
			return err
		}
	}
	return nil
}
