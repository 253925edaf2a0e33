"""Understanding a message: raw bytes to an immutable `Message` (MIME, charsets,
HTML to text, quotes and signatures)."""
