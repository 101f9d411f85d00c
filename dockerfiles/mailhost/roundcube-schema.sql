-- Roundcube's own tables that a migration must carry (users, their identities and address
-- books), with Roundcube 1.6's column names. The database exists on every host, as when
-- Roundcube is installed next to the mail server (the ISPmail guide).
CREATE DATABASE IF NOT EXISTS roundcube;
USE roundcube;
CREATE TABLE IF NOT EXISTS users (
  user_id int(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  username varchar(128) BINARY NOT NULL,
  mail_host varchar(128) NOT NULL,
  created datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  last_login datetime DEFAULT NULL,
  failed_login datetime DEFAULT NULL,
  failed_login_counter int(10) UNSIGNED DEFAULT NULL,
  language varchar(16),
  preferences longtext,
  PRIMARY KEY (user_id),
  UNIQUE username (username, mail_host)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS identities (
  identity_id int(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  user_id int(10) UNSIGNED NOT NULL,
  changed datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  del tinyint(1) NOT NULL DEFAULT '0',
  standard tinyint(1) NOT NULL DEFAULT '0',
  name varchar(128) NOT NULL,
  organization varchar(128) NOT NULL DEFAULT '',
  email varchar(128) NOT NULL,
  `reply-to` varchar(128) NOT NULL DEFAULT '',
  bcc varchar(128) NOT NULL DEFAULT '',
  signature longtext,
  html_signature tinyint(1) NOT NULL DEFAULT '0',
  PRIMARY KEY (identity_id),
  CONSTRAINT user_id_fk_identities FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS contacts (
  contact_id int(10) UNSIGNED NOT NULL AUTO_INCREMENT,
  changed datetime NOT NULL DEFAULT '1000-01-01 00:00:00',
  del tinyint(1) NOT NULL DEFAULT '0',
  name varchar(128) NOT NULL DEFAULT '',
  email text NOT NULL,
  firstname varchar(128) NOT NULL DEFAULT '',
  surname varchar(128) NOT NULL DEFAULT '',
  vcard longtext NULL,
  words text NULL,
  user_id int(10) UNSIGNED NOT NULL,
  PRIMARY KEY (contact_id),
  CONSTRAINT user_id_fk_contacts FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE ON UPDATE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
