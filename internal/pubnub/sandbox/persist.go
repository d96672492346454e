package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// Durable state.
//
// With Opts.StateFile set, the sandbox writes its whole State to that
// file after every change (write-through) and reads it back in Open, so that
// a restart, even after SIGKILL, finds every app, keyset and customer a
// client was told about, and new IDs continue after the old ones (the next
// IDs are part of the state, so IDs are never reused).
//
// Every request that changes state (including the lost and timeout faults,
// which apply the change) has its snapshot on disk before its answer is
// written: the change and a copy of the state are taken under the store's
// lock, then the copy is written to a temporary file in the same directory,
// fsynced, renamed over StateFile, and the directory fsynced. Writes are
// serialised and numbered: a snapshot older than the newest one on disk is
// never written (the newer one holds its change), so an older state never
// replaces a newer one. If the write fails, the change stays in memory and
// the request is answered 500 (the client must assume it may have
// happened, as after a lost answer). The cost is one full write per change,
// which is fine for dev mode and docker-compose, not for benchmarks (leave
// StateFile empty there; Prefill writes once per batch).

// stateFileVersion is the format of the state file.
const stateFileVersion = 1

// stateFile is the state file's content.
type stateFile struct {
	Version int   `json:"version"`
	State   State `json:"state"`
}

// pendingSave is a change's snapshot, waiting to be written.
type pendingSave struct {
	seq   uint64
	state State
}

// persister writes snapshots to one file, in order.
type persister struct {
	path    string
	mu      sync.Mutex
	written uint64 // seq of the snapshot on disk
}

// changed records that res's request changed the store and, when the
// sandbox is durable, attaches the snapshot to write before answering.
// st.mu must be held.
func (st *store) changed(res result) result {
	st.seq++
	if st.persist != nil {
		res.save = &pendingSave{seq: st.seq, state: st.snapshotLocked()}
	}
	return res
}

// save writes save's snapshot unless a newer one is already on disk; nil
// save or a sandbox without a state file does nothing.
func (st *store) save(save *pendingSave) error {
	if save == nil || st.persist == nil {
		return nil
	}
	return st.persist.write(save)
}

func (p *persister) write(save *pendingSave) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if save.seq <= p.written {
		return nil // a newer snapshot, which includes this change, is on disk
	}
	if err := writeStateFile(p.path, save.state); err != nil {
		return err
	}
	p.written = save.seq
	return nil
}

// writeStateFile replaces path with state atomically and durably: temp file,
// fsync, rename, fsync of the directory.
func writeStateFile(path string, state State) (err error) {
	b, err := json.Marshal(stateFile{Version: stateFileVersion, State: state})
	if err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("save sandbox state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("save sandbox state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("save sandbox state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("save sandbox state: sync %s: %w", dir, err)
	}
	return nil
}

// readStateFile reads path. A missing file is (State{}, false, nil). The
// file is {"version": 1, "state": {...}}; a bare State object, as dev mode
// saved it before StateFile existed, is read too. Anything else (not JSON,
// empty, unknown fields, another version) is an error naming the file.
func readStateFile(path string) (State, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, fmt.Errorf("sandbox state file %s: %w", path, err)
	}
	corrupt := func(err error) (State, bool, error) {
		return State{}, false, fmt.Errorf("sandbox state file %s is corrupt (fix or remove it): %w", path, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return corrupt(errors.New("it is empty"))
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return corrupt(err)
	}
	strict := func(dst any) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		return dec.Decode(dst)
	}
	if _, wrapped := probe["version"]; !wrapped {
		var state State
		if err := strict(&state); err != nil {
			return corrupt(err)
		}
		return state, true, nil
	}
	var f stateFile
	if err := strict(&f); err != nil {
		return corrupt(err)
	}
	if f.Version != stateFileVersion {
		return corrupt(fmt.Errorf("version %d, want %d", f.Version, stateFileVersion))
	}
	return f.State, true, nil
}

// Open returns a sandbox configured by opts (nil: defaults), like New. With
// Opts.StateFile set it first loads that file (a missing file is an
// empty sandbox, and is created at once so that an unwritable location
// fails here rather than on the first change) and from then on writes every
// change through to it. It returns an error, and no sandbox, when the file
// cannot be read or written, is corrupt, or holds a state that breaks the
// sandbox's rules (see Restore).
func Open(opts *Opts) (*Sandbox, error) {
	s := newSandbox(opts)
	path := ""
	if opts != nil {
		path = opts.StateFile
	}
	if path == "" {
		return s, nil
	}
	state, found, err := readStateFile(path)
	if err != nil {
		return nil, err
	}
	if found {
		if err := s.restore(state); err != nil {
			return nil, fmt.Errorf("sandbox state file %s: %w", path, err)
		}
	}
	s.store.persist = &persister{path: path}
	if !found {
		if err := writeStateFile(path, s.Snapshot()); err != nil {
			return nil, err
		}
	}
	return s, nil
}
