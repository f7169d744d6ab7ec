module github.com/cmafkit/cmafkit

go 1.26.8

require (
	github.com/Eyevinn/mp4ff v0.56.0
	github.com/grafov/m3u8 v0.12.1
	github.com/zencoder/go-dash/v3 v3.0.3
)
