-- Postfix Admin's tables on PostgreSQL, as its setup (upgrade.php) leaves them and
-- `pg_dump -s postfix` shows them (the mail-serving tables).
CREATE TABLE public.domain (
    domain character varying(255) NOT NULL,
    description character varying(255) DEFAULT ''::character varying NOT NULL,
    aliases integer DEFAULT 0 NOT NULL,
    mailboxes integer DEFAULT 0 NOT NULL,
    maxquota bigint DEFAULT 0 NOT NULL,
    quota bigint DEFAULT 0 NOT NULL,
    transport character varying(255) DEFAULT NULL::character varying,
    backupmx boolean DEFAULT false NOT NULL,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean DEFAULT true NOT NULL,
    password_expiry integer DEFAULT 0
);
CREATE TABLE public.mailbox (
    username character varying(255) NOT NULL,
    password character varying(255) DEFAULT ''::character varying NOT NULL,
    name character varying(255) DEFAULT ''::character varying NOT NULL,
    maildir character varying(255) DEFAULT ''::character varying NOT NULL,
    quota bigint DEFAULT 0 NOT NULL,
    local_part character varying(255) NOT NULL,
    domain character varying(255) NOT NULL,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean DEFAULT true NOT NULL,
    phone character varying(30) DEFAULT ''::character varying NOT NULL,
    email_other character varying(255) DEFAULT ''::character varying NOT NULL,
    token character varying(255) DEFAULT ''::character varying NOT NULL,
    token_validity timestamp with time zone DEFAULT '2000-01-01 00:00:00+00'::timestamp with time zone,
    password_expiry timestamp with time zone DEFAULT '2000-01-01 00:00:00+00'::timestamp with time zone
);
CREATE TABLE public.alias (
    address character varying(255) NOT NULL,
    goto text NOT NULL,
    domain character varying(255) NOT NULL,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean DEFAULT true NOT NULL
);
ALTER TABLE ONLY public.domain ADD CONSTRAINT domain_key PRIMARY KEY (domain);
ALTER TABLE ONLY public.mailbox ADD CONSTRAINT mailbox_key PRIMARY KEY (username);
ALTER TABLE ONLY public.alias ADD CONSTRAINT alias_key PRIMARY KEY (address);
CREATE INDEX mailbox_domain_idx ON public.mailbox USING btree (domain);
CREATE INDEX alias_domain_idx ON public.alias USING btree (domain);
ALTER TABLE ONLY public.mailbox ADD CONSTRAINT mailbox_domain_fkey FOREIGN KEY (domain) REFERENCES public.domain(domain) ON DELETE CASCADE;
ALTER TABLE ONLY public.alias ADD CONSTRAINT alias_domain_fkey FOREIGN KEY (domain) REFERENCES public.domain(domain) ON DELETE CASCADE;
