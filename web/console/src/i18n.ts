// Minimal i18n scaffold: one table per locale, English is the source of truth.
// Add a locale by copying `en` and registering it in `tables`.
const en = {
  'app.name': 'Custos',
  'login.title': 'Sign in to Custos',
  'login.login': 'Login',
  'login.password': 'Password',
  'login.totp': 'Authenticator code',
  'login.totpHint': 'Enter the 6-digit code from your authenticator app.',
  'login.submit': 'Sign in',
  'login.submitting': 'Signing in…',
  'login.unauthorized': 'Invalid login or password.',
  'login.badTotp': 'Invalid authenticator code.',
  'login.locked': 'This account is locked. Contact an administrator.',
  'login.rateLimited': 'Too many attempts. Please wait and try again.',
  'totp.title': 'Set up two-factor authentication',
  'totp.intro': 'Add this account to your authenticator app using the secret or the otpauth URL below, then enter the generated code.',
  'totp.secret': 'Secret',
  'totp.url': 'otpauth URL',
  'totp.code': 'Code',
  'totp.enable': 'Enable and continue',
  'totp.loading': 'Generating secret…',
  'common.loading': 'Loading…',
  'common.retry': 'Retry',
  'common.error': 'Something went wrong',
  'common.none': '—',
  'common.close': 'Close',
  'view.mine': 'Mine',
  'view.unassigned': 'Unassigned',
  'view.teams': 'My teams',
  'view.all': 'All',
  'sidebar.views': 'Inbox',
  'filter.status': 'Status',
  'filter.channel': 'Channel',
  'filter.anyChannel': 'Any channel',
  'filter.tag': 'Tag',
  'filter.search': 'Search tickets…',
  'list.empty': 'No tickets match these filters.',
  'list.loadMore': 'Load more',
  'list.unread': 'Unread',
  'conv.none': 'Select a ticket to see the conversation.',
  'conv.internalNote': 'Internal note',
  'conv.pending': 'Sending…',
  'conv.failed': 'Not sent',
  'conv.typing': '{name} is typing…',
  'conv.empty': 'No messages yet.',
  'conv.status': 'Status',
  'conv.priority': 'Priority',
  'conv.assignee': 'Assignee',
  'conv.unassigned': 'Unassigned',
  'conv.assignMe': 'Assign to me',
  'conv.team': 'Team',
  'conv.noTeam': 'No team',
  'conv.tags': 'Tags',
  'conv.addTag': 'Add tag…',
  'composer.reply': 'Reply',
  'composer.note': 'Note',
  'composer.placeholderReply': 'Reply to the customer…  (Ctrl/Cmd+Enter to send)',
  'composer.placeholderNote': 'Internal note, only visible to agents…  (Ctrl/Cmd+Enter to save)',
  'composer.send': 'Send',
  'composer.addNote': 'Add note',
  'composer.attach': 'Attach',
  'composer.uploading': 'Uploading…',
  'contact.title': 'Customer',
  'contact.uid': 'External UID',
  'contact.email': 'Email',
  'contact.phone': 'Phone',
  'contact.telegram': 'Telegram',
  'contact.vip': 'VIP tier',
  'contact.kyc': 'KYC level',
  'contact.language': 'Language',
  'contact.tags': 'Tags',
  'contact.reveal': 'Reveal',
  'contact.revealed': 'Revealed (audited)',
  'contact.otherTickets': 'Other tickets',
  'contact.noOther': 'No other tickets.',
  'header.presence': 'Presence',
  'header.logout': 'Log out',
  'header.notify': 'Enable notifications',
  'header.notifyOn': 'Notifications on',
  'header.notifyDenied': 'Notifications blocked',
  'header.shortcuts': 'Shortcuts (?)',
  'header.chatLoad': 'Chats',
  'header.chatLoadTitle': 'Your open chats and your concurrent-chat limit',
  'ws.connected': 'Live',
  'ws.connecting': 'Connecting…',
  'ws.offline': 'Offline',
  'presence.online': 'Online',
  'presence.away': 'Away',
  'presence.offline': 'Offline',
  'notify.newChat': 'New chat',
  'shortcuts.title': 'Keyboard shortcuts',
  'shortcuts.r': 'Focus reply',
  'shortcuts.n': 'Focus internal note',
  'shortcuts.s': 'Solve current ticket',
  'shortcuts.j': 'Next ticket',
  'shortcuts.k': 'Previous ticket',
  'shortcuts.send': 'Send reply / note',
  'shortcuts.help': 'Show this help',
  'status.new': 'New',
  'status.open': 'Open',
  'status.pending': 'Pending',
  'status.on-hold': 'On hold',
  'status.solved': 'Solved',
  'status.closed': 'Closed',
  'priority.low': 'Low',
  'priority.normal': 'Normal',
  'priority.high': 'High',
  'priority.urgent': 'Urgent',
  'event.changed': '{actor} changed {field} {old} → {new}',
  'event.set': '{actor} set {field} to {new}',
  'event.cleared': '{actor} cleared {field}',
  'actor.system': 'System',
  'actor.contact': 'Customer',
  'actor.bot': 'Bot',
} as const;

export type MsgKey = keyof typeof en;
type Table = Record<MsgKey, string>;

const tables: Record<string, Partial<Table>> = { en };
let current: Partial<Table> = en;

export function setLocale(locale: string) {
  current = tables[locale] ?? tables[locale.split('-')[0]] ?? en;
}

/** Translate `key`, substituting `{name}` placeholders from `vars`. */
export function t(key: MsgKey, vars?: Record<string, string | number>): string {
  let s: string = current[key] ?? en[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
  return s;
}

/** Translate a dynamic key such as `status.${s}`; falls back to the raw value. */
export function tv(prefix: string, value: string): string {
  const k = `${prefix}.${value}` as MsgKey;
  return (current[k] ?? en[k] ?? value) as string;
}
