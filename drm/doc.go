// Package drm protects CMAF tracks with ISO/IEC 23001-7 Common Encryption
// and describes the protection for manifest writers.
//
// It covers three concerns:
//
//   - Key material: [KID], [Key] and [IV] values (a Key never prints its
//     secret), and [KeyProvider]s that choose a key per track class (audio,
//     SD, HD, UHD video) and per crypto period for key rotation: [StaticKeys]
//     here, and a DASH-IF CPIX document in sub-package cpix.
//   - Encryption on mp4ff types, applied after segmentation: a [TrackProtector]
//     turns a clear CMAF init segment into a protected one ([TrackProtector.ProtectInit])
//     and encrypts each fragment (moof+mdat chunk) in place, adding senc, saiz
//     and saio, and for key rotation seig/sbgp and pssh in the moof
//     ([TrackProtector.ProtectFragment]). Schemes are "cenc" (AES-CTR) and
//     "cbcs" (AES-CBC, 1:9 pattern for video, constant IV); video uses
//     subsample encryption that keeps NAL/OBU headers and slice headers clear.
//   - Description for manifests: a [Protection] is plain data (scheme,
//     default KID, per DRM system the pssh box, PlayReady object, license
//     URL, key URI and a key server's own signalling, and the crypto periods
//     of key rotation) for Widevine, PlayReady, FairPlay and ClearKey;
//     packages manifest/dash and manifest/hls turn it into ContentProtection
//     elements and EXT-X-KEY tags.
//
// A packager uses a [Session] per job: [Session.Track] gives each track its
// TrackProtector and Protection, with every key fetched up front, and
// refuses a cenc key and fixed IV shared by two tracks ([IVReuseError]).
//
// The package works on github.com/Eyevinn/mp4ff types and uses its box
// types and its SPS/PPS and AV1 parsers, but sizes slice headers itself
// (allocation-free, and safe on hostile input) and does its own encryption
// and box bookkeeping instead of mp4ff's InitProtect and EncryptFragment
// (the tests named TestMP4ff* show why).
package drm
