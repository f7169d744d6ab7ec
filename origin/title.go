package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/packager"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/steering"
	"github.com/cmafkit/cmafkit/storage"
)

// TitleFile is the JSON form of a title of several files (extension
// ".json"): the renditions of one ladder, its audio languages and its
// subtitles. Paths are relative to the title file's directory and stay in
// the source. Unknown fields are refused.
//
//	{
//	  "renditions": [{"path": "a_1080p.mp4"}, {"path": "a_540p.mp4"}],
//	  "audio": [{"path": "a_fr.mp4", "language": "fr", "label": "Français"}],
//	  "subtitles": [{"path": "a_en.vtt", "language": "en"}],
//	  "encryption": "cbcs"
//	}
type TitleFile struct {
	// Renditions are the video (and muxed audio) files of the ladder.
	Renditions []TitleInput `json:"renditions"`
	// Audio are audio-only files, one per language or role.
	Audio []TitleInput `json:"audio,omitempty"`
	// Subtitles are WebVTT or text-track MP4 files.
	Subtitles []TitleInput `json:"subtitles,omitempty"`
	// Encryption is "cenc" or "cbcs" to encrypt the title when the origin
	// has keys and the request names no scheme, "none" to keep it clear;
	// empty means Config.Encryption.
	Encryption string `json:"encryption,omitempty"`
}

// TitleInput is one file of a TitleFile.
type TitleInput struct {
	Path     string `json:"path"`
	Language string `json:"language,omitempty"`
	Label    string `json:"label,omitempty"`
}

// maxTitleFile bounds the size of a title file, maxTitleInputs its files.
const (
	maxTitleFile   = 64 << 10
	maxTitleInputs = 64
)

// ErrBadTitle is wrapped by the errors for title files that cannot be
// used (malformed JSON, a path out of the source, no renditions).
var ErrBadTitle = errors.New("origin: bad title file")

// openedTitle is a title's files, opened.
type openedTitle struct {
	inputs     []packager.Input
	files      []File
	names      []string // of files, in the source
	encryption string   // from the title file
	version    string
	modTime    time.Time
}

func (t *openedTitle) close() {
	for _, f := range t.files {
		f.Close()
	}
}

// openTitle opens the title named name: one media file, or a title file.
func openTitle(ctx context.Context, src Source, name string) (_ *openedTitle, err error) {
	t := &openedTitle{}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	add := func(name string, in packager.Input) error {
		f, err := src.Open(ctx, name)
		if err != nil {
			return err
		}
		t.files, t.names = append(t.files, f), append(t.names, name)
		in.Reader, in.Size, in.Name = f, f.Size(), name
		if df, ok := f.(*dirFile); ok {
			// The *os.File itself, so that segment writing can read a
			// segment's runs of samples with one preadv and tell tmpfs
			// from disk (internal/fastcopy), as for `cmafkit package`.
			in.Reader = df.File
		}
		t.inputs = append(t.inputs, in)
		t.version += f.Version() + ";"
		if m := f.ModTime(); m.After(t.modTime) {
			t.modTime = m
		}
		return nil
	}
	if !strings.EqualFold(path.Ext(name), ".json") {
		return t, add(name, packager.Input{})
	}
	f, err := src.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	t.files, t.names = append(t.files, f), append(t.names, name)
	t.version, t.modTime = f.Version()+";", f.ModTime()
	if f.Size() > maxTitleFile {
		return nil, fmt.Errorf("%w: %s: %d bytes, over %d", ErrBadTitle, name, f.Size(), maxTitleFile)
	}
	dec := json.NewDecoder(io.NewSectionReader(f, 0, f.Size()))
	dec.DisallowUnknownFields()
	var tf TitleFile
	if err := dec.Decode(&tf); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadTitle, name, err)
	}
	switch tf.Encryption {
	case "", "none", string(drm.SchemeCENC), string(drm.SchemeCBCS):
		t.encryption = tf.Encryption
	default:
		return nil, fmt.Errorf("%w: %s: encryption %q: want cenc, cbcs or none", ErrBadTitle, name, tf.Encryption)
	}
	if len(tf.Renditions) == 0 {
		return nil, fmt.Errorf("%w: %s: no renditions", ErrBadTitle, name)
	}
	if n := len(tf.Renditions) + len(tf.Audio) + len(tf.Subtitles); n > maxTitleInputs {
		return nil, fmt.Errorf("%w: %s: %d files, over %d", ErrBadTitle, name, n, maxTitleInputs)
	}
	dir := path.Dir(name)
	for _, group := range []struct {
		ins   []TitleInput
		kinds []segment.Kind
	}{{tf.Renditions, nil}, {tf.Audio, []segment.Kind{segment.KindAudio}}, {tf.Subtitles, []segment.Kind{segment.KindText}}} {
		for _, in := range group.ins {
			p := path.Join(dir, in.Path)
			if path.IsAbs(in.Path) || storage.CheckName(in.Path) != nil || storage.CheckName(p) != nil || hasDotElement(p) {
				return nil, fmt.Errorf("%w: %s: path %q is not a relative path inside the source", ErrBadTitle, name, in.Path)
			}
			if err := add(p, packager.Input{Kinds: group.kinds, Language: in.Language, Label: in.Label}); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// job returns the packaging job of an opened title.
func (c *Config) job(t *openedTitle, enc *drm.Config, steer *steering.Config) packager.Job {
	return packager.Job{
		Inputs:          t.inputs,
		SegmentDuration: c.SegmentDuration,
		Encryption:      enc,
		Logger:          c.Logger,
		Parallelism:     c.RenderParallelism,
		Naming:          packager.Naming{},
		Formats:         packager.HLS | packager.DASH,
		Steering:        steer,
	}
}

// isTitleName reports whether a path element names a title: a media file
// or a title file, by extension.
func isTitleName(e string) bool {
	switch strings.ToLower(path.Ext(e)) {
	case ".mp4", ".m4v", ".mov", ".cmfv", ".json":
		return true
	}
	return false
}

// notFound reports whether err means the title does not exist.
func notFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }
