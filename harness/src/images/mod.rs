//! Guest images: descriptions, fetching, the content-addressed cache.
