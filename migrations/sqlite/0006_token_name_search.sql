-- The token name search (`search`: the name contains the text, case-insensitively) by index: a
-- contentless FTS5 table of the names' trigrams, keyed by the token's rowid and kept in step by
-- triggers. The store uses it as a candidate set for texts of 3 or more characters and checks each
-- candidate's name with the same LIKE as without it, so results never depend on it being exact.
CREATE VIRTUAL TABLE `tokens_name_search` USING fts5(`name`, content='', contentless_delete=1, tokenize='trigram');
--> statement-breakpoint
INSERT INTO `tokens_name_search` (`rowid`, `name`) SELECT `rowid`, `name` FROM `tokens`;
--> statement-breakpoint
CREATE TRIGGER `tokens_name_search_insert` AFTER INSERT ON `tokens` BEGIN
  INSERT INTO `tokens_name_search` (`rowid`, `name`) VALUES (new.`rowid`, new.`name`);
END;
--> statement-breakpoint
CREATE TRIGGER `tokens_name_search_delete` AFTER DELETE ON `tokens` BEGIN
  DELETE FROM `tokens_name_search` WHERE `rowid` = old.`rowid`;
END;
--> statement-breakpoint
CREATE TRIGGER `tokens_name_search_rename` AFTER UPDATE OF `name` ON `tokens` BEGIN
  DELETE FROM `tokens_name_search` WHERE `rowid` = old.`rowid`;
  INSERT INTO `tokens_name_search` (`rowid`, `name`) VALUES (new.`rowid`, new.`name`);
END;
