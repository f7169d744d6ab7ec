#!/bin/sh
# Regenerates the synthetic bandwidth traces (time in s, bandwidth in kbit/s).
# They are made up, not measured: small, deterministic shapes that exercise
# the simulator (steady link, step changes, an outage, a fluctuating mobile-like link).
set -eu
cd "$(dirname "$0")"
printf 'time,bandwidth_kbps\n0,5000\n60,5000\n' > steady_5mbps.csv
printf 'time,bandwidth_kbps\n0,8000\n30,1500\n60,4000\n90,4000\n' > step_down.csv
printf 'time,bandwidth_kbps\n0,6000\n20,0\n28,6000\n60,6000\n' > outage.csv
awk 'BEGIN {
  print "time,bandwidth_kbps"
  for (t = 0; t < 120; t++) {
    bw = 2500 + 1500*sin(t/7.0) + 800*sin(t/2.3)
    if (t >= 70 && t < 76) bw = 150
    if (bw < 200 && !(t >= 70 && t < 76)) bw = 200
    printf "%d,%d\n", t, bw
  }
}' > mobile.csv
