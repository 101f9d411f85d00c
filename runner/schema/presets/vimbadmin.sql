-- ViMbAdmin's tables as its Doctrine schema tool makes them on MySQL/MariaDB
-- (`doctrine2-cli.php orm:schema-tool:create`), as `mysqldump --no-data vimbadmin` shows them
-- (the mail-serving tables; admin, log, directory_entry and the others left out).
CREATE TABLE `domain` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `domain` varchar(255) NOT NULL,
  `description` varchar(255) DEFAULT NULL,
  `max_aliases` int(11) NOT NULL DEFAULT 0,
  `alias_count` bigint(20) NOT NULL DEFAULT 0,
  `max_mailboxes` int(11) NOT NULL DEFAULT 0,
  `mailbox_count` bigint(20) NOT NULL DEFAULT 0,
  `max_quota` bigint(20) NOT NULL DEFAULT 0,
  `quota` bigint(20) NOT NULL DEFAULT 0,
  `transport` varchar(255) NOT NULL DEFAULT 'virtual',
  `backupmx` tinyint(1) NOT NULL DEFAULT 0,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `homedir` varchar(255) DEFAULT NULL,
  `maildir` varchar(255) DEFAULT NULL,
  `uid` bigint(20) DEFAULT NULL,
  `gid` bigint(20) DEFAULT NULL,
  `created` datetime NOT NULL,
  `modified` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `UNIQ_A7A91E0BA7A91E0B` (`domain`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `mailbox` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `username` varchar(255) NOT NULL,
  `password` varchar(255) NOT NULL,
  `name` varchar(255) DEFAULT NULL,
  `alt_email` varchar(255) DEFAULT NULL,
  `quota` bigint(20) NOT NULL DEFAULT 0,
  `local_part` varchar(255) NOT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `access_restriction` varchar(100) NOT NULL DEFAULT 'ALL',
  `homedir` varchar(255) DEFAULT NULL,
  `maildir` varchar(255) DEFAULT NULL,
  `uid` bigint(20) DEFAULT NULL,
  `gid` bigint(20) DEFAULT NULL,
  `homedir_size` bigint(20) DEFAULT NULL,
  `maildir_size` bigint(20) DEFAULT NULL,
  `size_at` datetime DEFAULT NULL,
  `delete_pending` tinyint(1) DEFAULT 0,
  `created` datetime NOT NULL,
  `modified` datetime DEFAULT NULL,
  `Domain_id` bigint(20) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `UNIQ_A69FE20BF85E0677` (`username`),
  KEY `IDX_A69FE20BBF7B6B4A` (`Domain_id`),
  CONSTRAINT `FK_A69FE20BBF7B6B4A` FOREIGN KEY (`Domain_id`) REFERENCES `domain` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `alias` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `address` varchar(255) NOT NULL,
  `goto` longtext NOT NULL,
  `active` tinyint(1) NOT NULL DEFAULT 1,
  `created` datetime NOT NULL,
  `modified` datetime DEFAULT NULL,
  `Domain_id` bigint(20) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `UNIQ_E16C6B94D4E6F81` (`address`),
  KEY `IDX_E16C6B94BF7B6B4A` (`Domain_id`),
  CONSTRAINT `FK_E16C6B94BF7B6B4A` FOREIGN KEY (`Domain_id`) REFERENCES `domain` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
