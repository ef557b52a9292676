-- Each agent's stored messages and each archive's passages, counted as rows come and go by the
-- triggers below (in the writing transaction, whichever statement or cascade writes them), so
-- that a step reads its counts at once rather than counting a history that keeps growing.

ALTER TABLE agents ADD COLUMN message_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE archives ADD COLUMN passage_count INTEGER NOT NULL DEFAULT 0;

UPDATE agents SET message_count = (SELECT COUNT(*) FROM messages m WHERE m.agent_id = agents.id);
UPDATE archives
SET passage_count = (SELECT COUNT(*) FROM passages p WHERE p.archive_id = archives.id);

CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN
    UPDATE agents SET message_count = message_count + 1 WHERE id = NEW.agent_id;
END;
CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN
    UPDATE agents SET message_count = message_count - 1 WHERE id = OLD.agent_id;
END;
-- No write moves a message to another agent or a passage to another archive; should one ever,
-- the counts follow.
CREATE TRIGGER messages_count_move AFTER UPDATE OF agent_id ON messages
WHEN NEW.agent_id IS NOT OLD.agent_id BEGIN
    UPDATE agents SET message_count = message_count - 1 WHERE id = OLD.agent_id;
    UPDATE agents SET message_count = message_count + 1 WHERE id = NEW.agent_id;
END;

CREATE TRIGGER passages_count_insert AFTER INSERT ON passages BEGIN
    UPDATE archives SET passage_count = passage_count + 1 WHERE id = NEW.archive_id;
END;
CREATE TRIGGER passages_count_delete AFTER DELETE ON passages BEGIN
    UPDATE archives SET passage_count = passage_count - 1 WHERE id = OLD.archive_id;
END;
CREATE TRIGGER passages_count_move AFTER UPDATE OF archive_id ON passages
WHEN NEW.archive_id IS NOT OLD.archive_id BEGIN
    UPDATE archives SET passage_count = passage_count - 1 WHERE id = OLD.archive_id;
    UPDATE archives SET passage_count = passage_count + 1 WHERE id = NEW.archive_id;
END;
