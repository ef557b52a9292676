-- Native reasoning block by block, with signatures and redacted blocks (JSON), and the model
-- that wrote the message. `reasoning` keeps the readable text: rows written before this
-- migration have only that, and read back as one unsigned block.
ALTER TABLE messages ADD COLUMN reasoning_blocks TEXT;
ALTER TABLE messages ADD COLUMN model TEXT;
