//! Feeds arbitrary bytes to the link decoders, as a hostile peer would: a [`FrameReader`] for
//! each stream kind (in the chunks the first byte chooses, as QUIC may cut a stream anywhere),
//! every batch item through `Item::decode`, and the bytes as a stored or relayed event through
//! [`codec::decode_event`]. None of it may panic, hang or allocate past the limits; every call
//! ends in a frame, `Ok(None)` or an error.
#![no_main]

use federation_proto::codec;
use federation_proto::frame::{Frame, FrameError, FrameReader, StreamKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = codec::decode_event(data);
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    for kind in [StreamKind::Control, StreamKind::Bulk] {
        let mut reader = FrameReader::for_stream(kind);
        for piece in stream.chunks(chunk) {
            reader.push(piece);
            // Each call makes progress: a frame, a skipped bad frame, or nothing more for now.
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => {
                        if let Frame::Batch(batch) = &frame {
                            for item in &batch.items {
                                let _ = item.decode();
                            }
                            let _ = batch.check_sequence(1);
                        }
                    }
                    Err(FrameError::Codec(_)) => {}
                    Ok(None) | Err(FrameError::TooLarge { .. }) => break,
                    Err(e @ FrameError::Truncated { .. }) => panic!("next_frame gave {e}"),
                }
            }
            assert!(reader.buffered() <= stream.len());
        }
        let _ = reader.end_of_stream();
    }
});
