// Package drm protects CMAF tracks with ISO/IEC 23001-7 Common Encryption and
// produces the signaling that DRM clients need.
//
// It covers three concerns:
//
//   - Key material: [KID], [Key] and [IV] values (a Key never prints its
//     secret), and [KeyProvider]s that choose a key per track class (audio,
//     SD, HD, UHD video) and per crypto period for key rotation: [StaticKeys]
//     here, and a DASH-IF CPIX 2.3 document in sub-package cpix.
//   - Encryption on mp4ff types, applied after segmentation: a [TrackProtector]
//     turns a clear CMAF init segment into a protected one ([TrackProtector.ProtectInit])
//     and encrypts each fragment (moof+mdat chunk) in place, adding senc, saiz
//     and saio, and for key rotation seig/sbgp and pssh in the moof
//     ([TrackProtector.ProtectFragment]). Schemes are "cenc" (AES-CTR) and
//     "cbcs" (AES-CBC, 1:9 pattern for video, constant IV); video uses
//     subsample encryption that keeps NAL/OBU headers and slice headers clear.
//   - Signaling for Widevine, PlayReady, FairPlay and ClearKey: PSSH boxes
//     ([PSSHBox], [WidevinePSSHData], [PlayReadyObject]) and a plain [Signaling]
//     value that the manifest writers translate into DASH ContentProtection
//     elements and HLS EXT-X-KEY / EXT-X-SESSION-KEY tags.
//
// The package works on github.com/Eyevinn/mp4ff types and uses mp4ff's box
// types and its SPS/PPS and AV1 parsers, but sizes slice headers itself
// (allocation-free, and safe on hostile input where mp4ff's parser could
// loop or allocate by untrusted counts) and does its own encryption and box
// bookkeeping, because mp4ff v0.56.0's InitProtect/EncryptFragment mutate the
// sample entry in place, handle one traf/trun only, compute saio before
// OptimizeTrun can move it, and know nothing of key rotation (see the tests
// named TestMP4ff* which demonstrate each problem).
package drm
