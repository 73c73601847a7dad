//! A formatted NVRAM for guests that boot under VOF.
//!
//! A pSeries guest's NVRAM (qemu's `spapr-nvram`) holds partitions in the
//! CHRP layout: a 16-byte header (signature, checksum, length in 16-byte
//! blocks, name) in front of each. SLOF formats a blank NVRAM at every boot
//! ("No NVRAM common partition, re-initializing..."); VOF does not, and
//! qemu's NVRAM without a drive is all zeros. Linux then finds a
//! zero-length partition, has no free space to create its own
//! (`ibm,rtas-log`, `lnx,oops-log`) and logs three err-level messages
//! (`nvram: Failed to find or create ... err -28`): noise in every VOF cell's
//! health that says nothing about the row.
//!
//! The cure is what SLOF leaves behind, minus SLOF's own partitions: one
//! free-space partition spanning the whole NVRAM. Linux splits it for its
//! partitions as it would on a machine. The image is read through a
//! snapshot drive, so one file serves every cell and stays as written.

/// Size of the image: qemu's default NVRAM size (`DEFAULT_NVRAM_SIZE` in
/// `hw/nvram/spapr_nvram.c`, which takes 8 KiB to 1 MiB from a drive).
pub const SIZE: usize = 64 * 1024;

/// Bytes in a partition header, and the unit of a partition's length.
const BLOCK: usize = 16;

/// Signature of a free-space partition (Linux `NVRAM_SIG_FREE`).
const SIG_FREE: u8 = 0x7f;

/// Name of the free-space partition, as firmware writes it: twelve `w`s.
/// Being one byte repeated, its 16-bit words read the same in either byte
/// order, so the checksum does not depend on the guest's endianness.
const FREE_NAME: [u8; 12] = [b'w'; 12];

/// The NVRAM image: one free-space partition over all of [`SIZE`].
pub fn formatted() -> Vec<u8> {
    let mut image = vec![0u8; SIZE];
    let blocks = u16::try_from(SIZE / BLOCK).expect("64 KiB is 4096 blocks");
    image[0] = SIG_FREE;
    image[2..4].copy_from_slice(&blocks.to_be_bytes());
    image[4..16].copy_from_slice(&FREE_NAME);
    image[1] = header_checksum(&image[..BLOCK]);
    image
}

/// The checksum byte of a partition header (`header[1]` is not read): the
/// signature, the length and the name's six 16-bit words added, carries
/// folded back twice, then the two bytes of the sum added with their carry.
/// This is the sum Linux checks before it trusts a partition
/// (`nvram_checksum` in `arch/powerpc/kernel/nvram_64.c`).
pub fn header_checksum(header: &[u8]) -> u8 {
    let length = u32::from(u16::from_be_bytes([header[2], header[3]]));
    let name: u32 = header[4..16]
        .chunks(2)
        .map(|w| u32::from(u16::from_le_bytes([w[0], w[1]])))
        .sum();
    let sum = u32::from(header[0]) + length + name;
    let sum = ((sum & 0xffff) + (sum >> 16)) & 0xffff;
    let swapped = (sum >> 8) + (sum << 8);
    (((sum + swapped) >> 8) & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_is_one_free_partition_spanning_the_nvram() {
        let image = formatted();
        assert_eq!(image.len(), SIZE);
        assert_eq!(image[0], SIG_FREE);
        let blocks = u16::from_be_bytes([image[2], image[3]]) as usize;
        assert_eq!(blocks * BLOCK, SIZE, "the partition covers every byte");
        assert_eq!(&image[4..16], b"wwwwwwwwwwww");
        assert!(image[BLOCK..].iter().all(|&b| b == 0));
    }

    #[test]
    fn the_header_carries_the_checksum_linux_expects() {
        let image = formatted();
        assert_eq!(image[1], header_checksum(&image[..BLOCK]));
        // Worked by hand: 0x7f + 0x1000 + 6 * 0x7777 = 0x2dd49, folded
        // 0xdd4b, bytes 0xdd + 0x4b = 0x128, so 0x29.
        assert_eq!(image[1], 0x29);
    }

    #[test]
    fn the_checksum_reads_the_name_in_little_endian_words() {
        // A name whose words differ by byte order, summed as a
        // little-endian guest's kernel sums it.
        let mut h = [0u8; 16];
        h[0] = 0x70;
        h[2..4].copy_from_slice(&0x0010u16.to_be_bytes());
        h[4..6].copy_from_slice(&[0x01, 0x02]);
        // 0x70 + 0x10 + 0x0201 = 0x0281; 0x02 + 0x81 = 0x83.
        assert_eq!(header_checksum(&h), 0x83);
    }
}
