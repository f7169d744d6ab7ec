package dash_test

import (
	"fmt"
	"time"

	"github.com/cmafkit/cmafkit/manifest/dash"
)

func ExampleDuration() {
	fmt.Println(dash.Duration(500*time.Millisecond), dash.Duration(3*time.Hour+8008*time.Millisecond))
	// Output: PT0.5S PT3H0M8.008S
}
