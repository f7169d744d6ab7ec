package packager_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cmafkit/cmafkit/drm"
	"github.com/cmafkit/cmafkit/internal/playertest"
	"github.com/cmafkit/cmafkit/packager"
)

// TestHLSSampleAES encrypts the TS segments with SAMPLE-AES and decrypts
// them with a decryptor written here from Apple's MPEG-2 Stream Encryption
// Format (not from the encryptor): per segment, the decrypted H.264 and AAC
// elementary streams equal those of a clear run byte for byte, the PMT
// announces stream types 0xDB and 0xCF with their descriptors, and the
// playlists carry METHOD=SAMPLE-AES with the key's URI and IV. ffmpeg
// decodes the output with the clear run's frame hashes, but for the last
// frames (see below).
func TestHLSSampleAES(t *testing.T) {
	key, err := drm.ParseKey("00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	iv := []byte{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}
	in := ladderInputs()[:1]
	clear := runJob(t, packager.Job{Inputs: in, Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS})
	dir := runJob(t, packager.Job{Inputs: in, Formats: packager.HLS, HLSSegmentType: packager.HLSSegmentTS,
		HLSSampleAES: &packager.AES128Key{Key: key, IV: iv}})
	if b, err := os.ReadFile(filepath.Join(dir, packager.DefaultSampleAESKeyName)); err != nil || !bytes.Equal(b, key.Secret()) {
		t.Fatalf("key object %x (%v), want the key", b, err)
	}
	block, err := aes.NewCipher(key.Secret())
	if err != nil {
		t.Fatal(err)
	}
	playlists, _ := filepath.Glob(filepath.Join(dir, "*_*.m3u8"))
	if len(playlists) != 2 {
		t.Fatalf("media playlists %v, want 2", playlists)
	}
	encryptedNALs, encryptedFrames := 0, 0
	for _, pl := range playlists {
		b, err := os.ReadFile(pl)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if !strings.Contains(text, "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"sample-aes.key\",IV=0x0f0e0d0c0b0a09080706050403020100\n") || !strings.Contains(text, "#EXT-X-VERSION:5\n") {
			t.Fatalf("%s: no SAMPLE-AES key at version 5:\n%s", pl, text)
		}
		video := strings.Contains(pl, "video")
		for _, line := range strings.Split(text, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			enc, err := os.ReadFile(filepath.Join(dir, line))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(clear, line))
			if err != nil {
				t.Fatal(err)
			}
			checkTSContinuity(t, line, enc)
			st, desc, es := tsElementaryStream(t, enc)
			_, _, clearES := tsElementaryStream(t, want)
			var dec []byte
			var n int
			if video {
				if st != 0xDB || !bytes.Equal(desc, []byte{0x0F, 4, 'z', 'a', 'v', 'c'}) {
					t.Fatalf("%s: stream type %#x descriptors %x, want 0xDB and zavc", line, st, desc)
				}
				dec, n = decryptH264(t, block, iv, es)
			} else {
				// private_data_indicator 'aacd'; registration 'apad' with the
				// audio setup information: 'zaac', priming 0, version 1, and
				// the AudioSpecificConfig (AAC-LC 48 kHz stereo: 0x1190...).
				wantDesc := []byte{0x0F, 4, 'a', 'a', 'c', 'd', 0x05}
				ok := st == 0xCF && len(desc) > 20 && bytes.HasPrefix(desc, wantDesc) && int(desc[7]) == len(desc)-8 &&
					bytes.Equal(desc[8:19], []byte{'a', 'p', 'a', 'd', 'z', 'a', 'a', 'c', 0, 0, 1}) && int(desc[19]) == len(desc)-20 &&
					bytes.HasPrefix(desc[20:], []byte{0x11, 0x90})
				if !ok {
					t.Fatalf("%s: stream type %#x descriptors %x, want 0xCF, aacd and apad with the audio setup information", line, st, desc)
				}
				dec, n = decryptADTS(t, block, iv, es)
			}
			if bytes.Equal(es, clearES) {
				t.Fatalf("%s: elementary stream not encrypted", line)
			}
			if !bytes.Equal(dec, clearES) {
				t.Fatalf("%s: decrypted elementary stream (%d bytes) differs from the clear one (%d bytes)", line, len(dec), len(clearES))
			}
			if video {
				encryptedNALs += n
			} else {
				encryptedFrames += n
			}
		}
	}
	if encryptedNALs == 0 || encryptedFrames == 0 {
		t.Fatalf("%d encrypted NAL units, %d encrypted AAC frames", encryptedNALs, encryptedFrames)
	}
	t.Logf("decrypted %d slice NAL units and %d AAC frames", encryptedNALs, encryptedFrames)

	// FFmpeg's HLS demuxer decrypts SAMPLE-AES too, but looks the key and IV
	// up by the segment it is reading when a packet leaves its buffers, so
	// packets at the end of the last segment come out undecrypted: every
	// frame but the last two must match the clear run.
	hashes := func(d string) []string {
		out, err := exec.Command("ffmpeg", "-v", "quiet", "-allowed_extensions", "ALL", "-i", filepath.Join(d, "master.m3u8"), "-map", "0", "-f", "framemd5", "-").Output()
		if err != nil {
			t.Skipf("ffmpeg: %v", err)
		}
		var lines []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		return lines
	}
	got, want := hashes(dir), hashes(clear)
	if len(got) != len(want) {
		t.Fatalf("ffmpeg: %d frames, clear %d", len(got), len(want))
	}
	bad := 0
	for i := range got {
		if got[i] != want[i] {
			bad++
		}
	}
	if bad > 2 {
		t.Fatalf("ffmpeg: %d of %d frames differ from the clear run", bad, len(got))
	}
	if testing.Short() {
		return
	}
	playertest.Play(t, context.Background(), playertest.Options{Dir: dir, Manifest: "master.m3u8", Player: playertest.HLSJS, Log: t.Logf})
}

// tsElementaryStream returns the stream type and ES descriptors of the one
// stream of a segment's PMT and the concatenated payloads of its PES packets.
func tsElementaryStream(t *testing.T, ts []byte) (byte, []byte, []byte) {
	t.Helper()
	var st byte
	var desc, es []byte
	pmtPID, esPID := -1, -1
	for off := 0; off+188 <= len(ts); off += 188 {
		p := ts[off : off+188]
		pid := int(p[1]&0x1F)<<8 | int(p[2])
		k := 4
		if p[3]&0x20 != 0 {
			k += 1 + int(p[4])
		}
		if p[3]&0x10 == 0 || k >= 188 {
			continue
		}
		payload := p[k:]
		switch {
		case pid == 0:
			sec := payload[1+payload[0]:]
			pmtPID = int(sec[10]&0x1F)<<8 | int(sec[11])
		case pid == pmtPID:
			sec := payload[1+payload[0]:]
			pil := int(sec[10]&0x0F)<<8 | int(sec[11])
			e := sec[12+pil:]
			st = e[0]
			esPID = int(e[1]&0x1F)<<8 | int(e[2])
			n := int(e[3]&0x0F)<<8 | int(e[4])
			desc = append([]byte(nil), e[5:5+n]...)
		case pid == esPID:
			if p[1]&0x40 != 0 { // PES header
				payload = payload[9+int(payload[8]):]
			}
			es = append(es, payload...)
		}
	}
	if esPID < 0 {
		t.Fatal("no PMT stream")
	}
	return st, desc, es
}

// decryptH264 decrypts an Annex B stream as the spec says: for each NAL
// unit of type 1 or 5 longer than 48 bytes, remove one layer of emulation
// prevention, then decrypt, from byte 32 on, one 16-byte block in ten while
// more than 16 bytes remain, as one CBC chain from the IV.
func decryptH264(t *testing.T, block cipher.Block, iv, es []byte) ([]byte, int) {
	t.Helper()
	var out []byte
	n := 0
	starts := []int{}
	for i := 0; i+3 <= len(es); i++ {
		if es[i] == 0 && es[i+1] == 0 && es[i+2] == 1 {
			starts = append(starts, i+3)
		}
	}
	for j, s := range starts {
		end := len(es)
		if j+1 < len(starts) {
			end = starts[j+1] - 3
			if end > s && es[end-1] == 0 { // a four-byte start code
				end--
			}
		}
		prefixStart := s - 3
		if prefixStart > 0 && es[prefixStart-1] == 0 {
			prefixStart--
		}
		nal := es[s:end]
		out = append(out, es[prefixStart:s]...)
		if typ := nal[0] & 0x1F; (typ != 1 && typ != 5) || len(nal) <= 48 {
			out = append(out, nal...)
			continue
		}
		var raw []byte
		for i := 0; i < len(nal); i++ {
			if i >= 2 && nal[i] == 3 && nal[i-1] == 0 && nal[i-2] == 0 && (len(raw) < 2 || raw[len(raw)-1] == 0 && raw[len(raw)-2] == 0) {
				continue
			}
			raw = append(raw, nal[i])
		}
		prev := append([]byte(nil), iv...)
		for off := 32; len(raw)-off > 16; off += 160 {
			ct := append([]byte(nil), raw[off:off+16]...)
			block.Decrypt(raw[off:off+16], ct)
			for k := 0; k < 16; k++ {
				raw[off+k] ^= prev[k]
			}
			prev = ct
		}
		out = append(out, raw...)
		n++
	}
	return out, n
}

// decryptADTS decrypts each ADTS frame: after its header and 16 clear
// bytes, the whole 16-byte blocks as one CBC chain from the IV.
func decryptADTS(t *testing.T, block cipher.Block, iv, es []byte) ([]byte, int) {
	t.Helper()
	out := append([]byte(nil), es...)
	n := 0
	for p := 0; p < len(out); {
		if len(out)-p < 7 || out[p] != 0xFF || out[p+1]&0xF0 != 0xF0 {
			t.Fatalf("no ADTS sync word at %d", p)
		}
		size := int(out[p+3]&3)<<11 | int(out[p+4])<<3 | int(out[p+5]>>5)
		hdr := 7
		if out[p+1]&1 == 0 {
			hdr = 9
		}
		payload := out[p+hdr : p+size]
		if len(payload) > 31 {
			blocks := (len(payload) - 16) / 16
			cipher.NewCBCDecrypter(block, iv).CryptBlocks(payload[16:16+16*blocks], payload[16:16+16*blocks])
			n++
		}
		p += size
	}
	return out, n
}
