#!/usr/bin/env bash
# Packages a generated test video as AES-128 encrypted HLS whose keys the Blindcast key
# server hands out.
#
#   examples/hls/package.sh OUT_DIR KEY_SERVER_URL [CONTENT_ID] [SECONDS]
#
# Needs the key server's secrets in the environment (MASTER_KEY and SALT, or *_FILE; after
# a rotation also MASTER_KEY_V<N>/SALT_V<N> and KEY_VERSION_PRIMARY), the `blindcast-keys`
# command (BLINDCAST_KEYS=path overrides), ffmpeg and openssl. Keys are those of the
# primary key version (KEY_VERSION=N packages under version N instead); under a version
# other than 1 every key URI carries `?kv=N`, written by `blindcast-keys keyinfo`.
# Writes into OUT_DIR:
#   source.ts                 the unencrypted source (for comparing decoded frames)
#   single/index.m3u8         one content key: URI KEY_SERVER_URL/keys/CONTENT_ID,
#                             encrypted by ffmpeg itself (-hls_key_info_file from
#                             `blindcast-keys keyinfo`)
#   rotating/index.m3u8       a new epoch key every 2 segments: URIs
#                             KEY_SERVER_URL/keys/CONTENT_ID/EPOCH, one #EXT-X-KEY per epoch
# Test media is generated (lavfi testsrc + sine), never downloaded.
set -euo pipefail

out=${1:?usage: package.sh OUT_DIR KEY_SERVER_URL [CONTENT_ID] [SECONDS]}
base=${2:?usage: package.sh OUT_DIR KEY_SERVER_URL [CONTENT_ID] [SECONDS]}
id=${3:-demo-movie}
seconds=${4:-12}
keys=${BLINDCAST_KEYS:-blindcast-keys}
version=()
if [[ -n ${KEY_VERSION:-} ]]; then version=(--version "$KEY_VERSION"); fi
segment_seconds=2
segments_per_epoch=2
base=${base%/}

for tool in ffmpeg openssl od; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is required (apt-get install $tool)" >&2; exit 2; }
done
mkdir -p "$out/single" "$out/rotating"
ff=(ffmpeg -hide_banner -loglevel error -y)

# One source, encoded once: a keyframe every segment so segment boundaries are exact.
"${ff[@]}" -f lavfi -i "testsrc=size=320x240:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -t "$seconds" -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 50 -keyint_min 50 -sc_threshold 0 \
  -c:a aac -b:a 64k -f mpegts "$out/source.ts"

# Single key: ffmpeg encrypts with the key file that `keyinfo` writes.
keyfile="$out/single/content.key"
"$keys" keyinfo "$id" "${version[@]}" --key-uri "$base/keys/$id" --key-file "$keyfile" > "$out/single/keyinfo"
"${ff[@]}" -i "$out/source.ts" -c copy -f hls -hls_time "$segment_seconds" -hls_playlist_type vod \
  -hls_key_info_file "$out/single/keyinfo" -hls_segment_filename "$out/single/seg%03d.ts" \
  "$out/single/index.m3u8"
rm -f "$keyfile" "$out/single/keyinfo" # the key server is the only place keys live

# Rotating keys: segment in the clear, then encrypt each segment with its epoch's key
# (AES-128-CBC, PKCS#7, explicit IV per epoch), as HLS METHOD=AES-128 specifies.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"${ff[@]}" -i "$out/source.ts" -c copy -f hls -hls_time "$segment_seconds" -hls_playlist_type vod \
  -hls_segment_filename "$tmp/seg%03d.ts" "$tmp/plain.m3u8"
playlist="$out/rotating/index.m3u8"
{
  echo "#EXTM3U"
  echo "#EXT-X-VERSION:3"
  grep -E '^#EXT-X-(TARGETDURATION|MEDIA-SEQUENCE|PLAYLIST-TYPE)' "$tmp/plain.m3u8"
} > "$playlist"
n=0
epoch=-1
while IFS= read -r line; do
  case "$line" in
    "#EXTINF:"*) extinf=$line ;;
    seg*.ts)
      if (( n % segments_per_epoch == 0 )); then
        epoch=$(( n / segments_per_epoch ))
        # keyinfo's lines: the key URI (with kv=N when the version is not 1), the key
        # file, the IV.
        "$keys" keyinfo "$id" --epoch "$epoch" "${version[@]}" --key-uri "$base/keys/$id/$epoch" \
          --key-file "$tmp/epoch.key" > "$tmp/epoch.keyinfo"
        { read -r uri; read -r _; read -r iv; } < "$tmp/epoch.keyinfo"
        key=$(od -An -v -tx1 "$tmp/epoch.key" | tr -d ' \n')
        rm -f "$tmp/epoch.key"
        echo "#EXT-X-KEY:METHOD=AES-128,URI=\"$uri\",IV=0x$iv" >> "$playlist"
      fi
      openssl enc -aes-128-cbc -K "$key" -iv "$iv" -in "$tmp/$line" -out "$out/rotating/$line"
      printf '%s\n%s\n' "$extinf" "$line" >> "$playlist"
      n=$(( n + 1 ))
      ;;
  esac
done < "$tmp/plain.m3u8"
echo "#EXT-X-ENDLIST" >> "$playlist"
echo "package.sh: $n segments, $(( epoch + 1 )) epochs in $out (content id $id)" >&2
