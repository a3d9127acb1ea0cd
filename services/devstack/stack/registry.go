package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// registryStore keeps srfake's schemas in a JSON file, because srfake itself
// lives in memory only and a restarted registry would hand out ids from 1
// again, while records already in the (persisted) topic name the old ids.
//
// It reads the registry through its own HTTP API (GET /schemas, served
// in-process) and restores with SeedSchema, which keeps ids and versions.
// What it does not keep: compatibility and mode settings, and a permanently
// deleted schema's id, which a restarted registry may hand out again if it
// was the highest.
type registryStore struct {
	path   string
	reg    *srfake.Registry
	logger *slog.Logger
	mu     sync.Mutex // one snapshot at a time
}

// storedSchema is one subject version in the file.
type storedSchema struct {
	sr.SubjectSchema
	Deleted bool `json:"deleted,omitempty"` // soft-deleted
}

type storeFile struct {
	Schemas []storedSchema `json:"schemas"`
}

// client talks to the registry's handler directly, bypassing the store's
// middleware (and the network).
func (s *registryStore) client() (*sr.Client, error) {
	return sr.NewClient(
		sr.URLs("http://registry.in-process"),
		sr.HTTPClient(&http.Client{Transport: handlerTransport{s.reg.Handler()}}),
	)
}

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// restore seeds the registry from the file, if there is one.
func (s *registryStore) restore(ctx context.Context) error {
	raw, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var f storeFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	// Ascending ids are registration order, so referenced schemas come
	// before the schemas that reference them.
	sort.Slice(f.Schemas, func(i, j int) bool {
		a, b := f.Schemas[i], f.Schemas[j]
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Subject != b.Subject {
			return a.Subject < b.Subject
		}
		return a.Version < b.Version
	})
	cl, err := s.client()
	if err != nil {
		return err
	}
	seen := map[int]bool{}
	for _, e := range f.Schemas {
		if !seen[e.ID] {
			if err := seed(s.reg, e.SubjectSchema); err != nil {
				return err
			}
			seen[e.ID] = true
		} else {
			// The same schema under a second subject shares the id;
			// SeedSchema refuses a known id, registration reuses it.
			id, version, err := s.reg.RegisterSchema(e.Subject, e.Schema)
			if err != nil {
				return fmt.Errorf("subject %s version %d: %w", e.Subject, e.Version, err)
			}
			if id != e.ID || version != e.Version {
				s.logger.Warn("registry restore: schema came back under another id or version",
					"subject", e.Subject, "want_id", e.ID, "want_version", e.Version, "id", id, "version", version)
			}
		}
	}
	for _, e := range f.Schemas {
		if e.Deleted {
			if err := cl.DeleteSchema(ctx, e.Subject, e.Version, sr.SoftDelete); err != nil {
				return fmt.Errorf("soft-delete subject %s version %d: %w", e.Subject, e.Version, err)
			}
		}
	}
	return nil
}

// seed turns SeedSchema's panics on bad input into an error.
func seed(reg *srfake.Registry, e sr.SubjectSchema) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("subject %s version %d id %d: %v", e.Subject, e.Version, e.ID, r)
		}
	}()
	reg.SeedSchema(e.Subject, e.Version, e.ID, e.Schema)
	return nil
}

// save writes every subject version, soft-deleted ones marked, to the file
// atomically (temp file + rename).
func (s *registryStore) save(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cl, err := s.client()
	if err != nil {
		return err
	}
	all, err := cl.AllSchemas(sr.WithParams(ctx, sr.ShowDeleted))
	if err != nil {
		return fmt.Errorf("list schemas: %w", err)
	}
	live, err := cl.AllSchemas(ctx)
	if err != nil {
		return fmt.Errorf("list live schemas: %w", err)
	}
	type key struct {
		subject string
		version int
	}
	isLive := map[key]bool{}
	for _, l := range live {
		isLive[key{l.Subject, l.Version}] = true
	}
	f := storeFile{Schemas: make([]storedSchema, 0, len(all))}
	for _, a := range all {
		f.Schemas = append(f.Schemas, storedSchema{SubjectSchema: a, Deleted: !isLive[key{a.Subject, a.Version}]})
	}
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".registry-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := io.Copy(tmp, bytes.NewReader(raw)); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// middleware saves a snapshot after every successful change, before the
// response leaves, so that a schema id a client has been told about is on
// disk even if the devstack is killed right after.
func (s *registryStore) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		bw := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(bw, r)
		if bw.status < 300 {
			if err := s.save(r.Context()); err != nil {
				s.logger.Error("registry: save schemas", "path", s.path, "err", err)
				http.Error(w, "devstack: could not persist the registry: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		for k, v := range bw.header {
			w.Header()[k] = v
		}
		w.WriteHeader(bw.status)
		_, _ = w.Write(bw.body.Bytes())
	})
}

// bufferedWriter holds a response until the snapshot is written.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
	wrote  bool
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if !b.wrote {
		b.status, b.wrote = code, true
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.wrote = true
	return b.body.Write(p)
}
