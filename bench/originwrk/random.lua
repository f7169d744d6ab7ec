-- wrk script: GET a random media segment of one representation.
-- wrk -s random.lua URL -- PREFIX NSEG   (PREFIX: the path before the number, e.g. /src.mp4/video_1080p_avc/seg-)
local prefix, nseg
function init(args)
  prefix = args[1]
  nseg = tonumber(args[2])
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end
function request()
  return wrk.format("GET", prefix .. math.random(1, nseg) .. ".m4s")
end
