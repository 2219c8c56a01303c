-- The images and videos a delivery carries: a JSON array of { path, file, alt, keep_metadata }
-- (the file's place, not its bytes: the dispatcher reads the file when it sends). NULL: none.
ALTER TABLE deliveries ADD COLUMN media text;
