package live_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/cmafkit/cmafkit/live"
	"github.com/cmafkit/cmafkit/segment"
	"github.com/cmafkit/cmafkit/storage"
)

// A Channel packages what a publisher pushes. Here a file stands in for an
// encoder (an RTMP ingest would call Publish when a stream key connects).
func ExampleChannel() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "live")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	segments := 0
	ch := &live.Channel{
		Storage:         storage.Dir(dir),
		SegmentDuration: 2 * time.Second,
		Window:          30 * time.Second,
		OnEvent: func(e live.Event) {
			if e.Kind == live.SegmentWritten {
				segments++
			}
		},
	}
	src, err := segment.OpenFile(ctx, "../testdata/ladder_720p.mp4", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()

	pub, err := ch.Publish(ctx, "mystream")
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ch.Publish(ctx, "mystream"); err != nil {
		fmt.Println("second publisher:", err)
	}
	// Speed 1 would push in real time; 0 pushes as fast as it can.
	if err := live.Replay(ctx, src.Tracks, pub, live.ReplayOptions{}); err != nil {
		log.Fatal(err)
	}
	pub.Close(nil)
	ch.Close(ctx) // ends the stream: HLS EXT-X-ENDLIST

	p := ch.Presentation()
	fmt.Println(p.Type, "ended:", p.Ended, "segments written:", segments)
	// Output:
	// second publisher: live: stream key already publishing: "mystream"
	// live ended: true segments written: 8
}
