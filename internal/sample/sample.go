// Package sample embeds the small two-rung H.264/AAC ladder that
// `cmafkit package` packages when it is given no input, so that the first
// command of the README works on any machine. The files are copies of
// testdata/ladder_720p.mp4 and testdata/ladder_360p.mp4 (see testdata/gen.sh).
package sample

import (
	"bytes"
	_ "embed"
)

//go:embed ladder_720p.mp4
var ladder720 []byte

//go:embed ladder_360p.mp4
var ladder360 []byte

// File is one embedded sample file.
type File struct {
	Name   string
	Reader *bytes.Reader
	Size   int64
}

// Ladder returns the embedded renditions, highest first.
func Ladder() []File {
	return []File{
		{Name: "sample/ladder_720p.mp4", Reader: bytes.NewReader(ladder720), Size: int64(len(ladder720))},
		{Name: "sample/ladder_360p.mp4", Reader: bytes.NewReader(ladder360), Size: int64(len(ladder360))},
	}
}
