// Package sample paces and collects host readings over a window of time.
//
// A [Source] gives one [host.Snapshot] per call: [Live] takes a fresh
// reading of a root directory (normally "/"), [Replay] reads the timed
// snapshot directories of a recorded window (docs/replay.md). [Collect] draws
// snapshots from a source for a duration and folds each into a
// [pressure.Window], the pure summary the verdict is made from. A tick is the
// same reading the one-shot advice takes; nothing here parses a file.
package sample
