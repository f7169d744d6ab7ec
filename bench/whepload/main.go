// Command whepload measures how many WHEP viewers one `cmafkit live
// --webrtc` process serves per core: it publishes an H.264 file over WHIP
// (pion) to the server at -url, opens -viewers pion WHEP viewers on
// 127.0.0.1, and after -warmup counts for -duration the viewers that
// receive at least 90 % of the publisher's video bitrate. The server's CPU
// time over the same window comes from /proc/PID/stat (-pid), so the
// viewers' own cost is not counted.
//
//	ffmpeg -f lavfi -i testsrc2=size=1280x720:rate=30 -t 10 -c:v libx264 -b:v 3M \
//	    -maxrate 3M -bufsize 1M -profile:v baseline -bf 0 -x264-params aud=1:keyint=30 -f h264 v.h264
//	cmafkit live -o out --http 127.0.0.1:18400 --webrtc &
//	go run ./bench/whepload -url http://127.0.0.1:18400 -pid $! -h264 v.h264 -viewers 200
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	pion "github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18400", "the cmafkit live --webrtc server")
	pid := flag.Int("pid", 0, "the server's process id (for its CPU time)")
	file := flag.String("h264", "", "Annex B H.264 file with access unit delimiters, 30 frames/s, looped")
	viewers := flag.Int("viewers", 100, "WHEP viewers")
	warmup := flag.Duration("warmup", 5*time.Second, "time before counting")
	dur := flag.Duration("duration", 15*time.Second, "measured time")
	flag.Parse()
	raw, err := os.ReadFile(*file)
	if err != nil {
		log.Fatal(err)
	}
	aus := accessUnits(raw)
	var total int
	for _, au := range aus {
		total += len(au)
	}
	rate := float64(total) * 8 / (float64(len(aus)) / 30) // bits/s
	api := loopbackAPI()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publish(ctx, api, *base, aus)
	time.Sleep(2 * time.Second)

	counts := make([]atomic.Int64, *viewers)
	var wg sync.WaitGroup
	for i := 0; i < *viewers; i++ {
		pc, err := api.NewPeerConnection(pion.Configuration{})
		if err != nil {
			log.Fatal(err)
		}
		defer pc.Close()
		if _, err := pc.AddTransceiverFromKind(pion.RTPCodecTypeVideo, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionRecvonly}); err != nil {
			log.Fatal(err)
		}
		c := &counts[i]
		pc.OnTrack(func(tr *pion.TrackRemote, _ *pion.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				c.Add(int64(n))
			}
		})
		wg.Add(1)
		go func() { defer wg.Done(); signal(ctx, pc, *base+"/whep/live") }()
		if i%20 == 19 {
			wg.Wait()
		}
	}
	wg.Wait()
	time.Sleep(*warmup)
	start := make([]int64, *viewers)
	for i := range counts {
		start[i] = counts[i].Load()
	}
	cpu0, self0 := cpuTime(*pid), cpuTime(os.Getpid())
	t0 := time.Now()
	time.Sleep(*dur)
	cpu, self := cpuTime(*pid)-cpu0, cpuTime(os.Getpid())-self0
	el := time.Since(t0)
	full := 0
	var sum float64
	for i := range counts {
		// RTP payload bytes (headers excluded) against the file's rate.
		r := float64(counts[i].Load()-start[i]) * 8 / el.Seconds()
		sum += r
		if r >= 0.9*rate {
			full++
		}
	}
	cores := cpu.Seconds() / el.Seconds()
	fmt.Printf("channel %.2f Mb/s; viewers receive %.2f Mb/s on average; %d of %d viewers at full rate; server CPU %.2f cores; %.0f viewers per core; load generator CPU %.2f cores\n",
		rate/1e6, sum/float64(*viewers)/1e6, full, *viewers, cores, float64(full)/cores, self.Seconds()/el.Seconds())
}

// cpuTime is the user+system CPU time of process pid (Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / 100 // USER_HZ
}

func accessUnits(raw []byte) [][]byte {
	var aus [][]byte
	for _, nal := range bytes.Split(raw, []byte{0, 0, 1}) {
		nal = bytes.TrimRight(nal, "\x00")
		if len(nal) == 0 {
			continue
		}
		if nal[0]&0x1f == 9 || len(aus) == 0 {
			aus = append(aus, nil)
		}
		aus[len(aus)-1] = append(append(aus[len(aus)-1], 0, 0, 0, 1), nal...)
	}
	return aus
}

func publish(ctx context.Context, api *pion.API, base string, aus [][]byte) {
	pc, err := api.NewPeerConnection(pion.Configuration{})
	if err != nil {
		log.Fatal(err)
	}
	video, err := pion.NewTrackLocalStaticSample(pion.RTPCodecCapability{MimeType: pion.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "whepload")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(video, pion.RTPTransceiverInit{Direction: pion.RTPTransceiverDirectionSendonly}); err != nil {
		log.Fatal(err)
	}
	signal(ctx, pc, base+"/whip/load")
	go func() {
		t := time.NewTicker(time.Second / 30)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				pc.Close()
				return
			case <-t.C:
			}
			if err := video.WriteSample(media.Sample{Data: aus[i%len(aus)], Duration: time.Second / 30}); err != nil {
				return
			}
		}
	}()
}

func loopbackAPI() *pion.API {
	me := &pion.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		log.Fatal(err)
	}
	ir := &interceptor.Registry{}
	if err := pion.RegisterDefaultInterceptors(me, ir); err != nil {
		log.Fatal(err)
	}
	se := pion.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]pion.NetworkType{pion.NetworkTypeUDP4})
	return pion.NewAPI(pion.WithMediaEngine(me), pion.WithInterceptorRegistry(ir), pion.WithSettingEngine(se))
}

// signal sends pc's offer to url and applies the answer.
func signal(ctx context.Context, pc *pion.PeerConnection, url string) {
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		log.Fatal(err)
	}
	done := pion.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		log.Fatal(err)
	}
	<-done
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		log.Fatalf("POST %s: %s: %s", url, resp.Status, body)
	}
	if err := pc.SetRemoteDescription(pion.SessionDescription{Type: pion.SDPTypeAnswer, SDP: string(body)}); err != nil {
		log.Fatal(err)
	}
}
