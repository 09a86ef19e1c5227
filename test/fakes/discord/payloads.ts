// Discord API objects as the fake server sends them, shaped after Discord's
// public documentation (developer docs: Gateway, Interactions, Message,
// Guild). The types come from discord-api-types (re-exported by discord.js),
// which is the published description of that API, so a missing required
// field is a compile error here rather than a surprise in the client.
import {
  ApplicationCommandType,
  ChannelType,
  ComponentType,
  InteractionType,
  MessageType,
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataOption,
  type APIChatInputApplicationCommandGuildInteraction,
  type APIGuildMember,
  type APIInteractionGuildMember,
  type APIMessage,
  type APIMessageComponentButtonInteraction,
  type APIRole,
  type APITextChannel,
  type APIUser,
  type ApplicationFlags,
  type ChannelFlags,
  type GatewayGuildCreateDispatchData,
  type GuildMemberFlags,
  type GuildSystemChannelFlags,
  type RoleFlags,
  type UserFlags,
  type GatewayReadyDispatchData,
  type Locale,
} from 'discord.js';

const DISCORD_EPOCH = 1_420_070_400_000n;
let snowflakeIncrement = 0n;

/** A Discord snowflake (ms since 2015 in the high bits, a counter in the low 12), as a decimal string. */
export function snowflake(at = Date.now()): string {
  snowflakeIncrement = (snowflakeIncrement + 1n) & 0xfffn;
  return (((BigInt(at) - DISCORD_EPOCH) << 22n) | snowflakeIncrement).toString();
}

/** Administrator-free permissions a bot typically holds in a channel it was invited to. */
const MEMBER_PERMISSIONS = '2248473465835073';
const LOCALE = 'en-US' as Locale;
// Flag fields are bitfields; "no flags" (0) is not a member of their enums.
const NO_FLAGS = 0;

/** A user object (bots have `bot: true`). */
export function user(id: string, username: string, bot = false): APIUser {
  return {
    id,
    username,
    discriminator: '0',
    global_name: bot ? null : username,
    avatar: null,
    bot,
    public_flags: NO_FLAGS as UserFlags,
    flags: NO_FLAGS as UserFlags,
  };
}

/** A role object; the @everyone role has the guild's id. */
export function role(id: string, name: string, position: number): APIRole {
  return {
    id,
    name,
    color: 0,
    colors: { primary_color: 0, secondary_color: null, tertiary_color: null },
    hoist: false,
    position,
    permissions: MEMBER_PERMISSIONS,
    managed: false,
    mentionable: false,
    flags: NO_FLAGS as RoleFlags,
  };
}

/** A guild text channel (type 0). */
export function textChannel(id: string, guildId: string, name: string): APITextChannel {
  return {
    id,
    type: ChannelType.GuildText,
    guild_id: guildId,
    name,
    position: 0,
    permission_overwrites: [],
    rate_limit_per_user: 0,
    nsfw: false,
    topic: null,
    last_message_id: null,
    parent_id: null,
    flags: NO_FLAGS as ChannelFlags,
  };
}

/** A guild member as listed in GUILD_CREATE. */
export function member(of: APIUser, roleIds: readonly string[], joinedAt: string): APIGuildMember {
  return {
    user: of,
    roles: [...roleIds],
    joined_at: joinedAt,
    deaf: false,
    mute: false,
    flags: NO_FLAGS as GuildMemberFlags,
    nick: null,
    avatar: null,
    premium_since: null,
    pending: false,
    communication_disabled_until: null,
  };
}

/** The member field of an interaction: a guild member plus their permissions in the channel. */
export function interactionMember(of: APIUser, roleIds: readonly string[], joinedAt: string): APIInteractionGuildMember {
  return { ...member(of, roleIds, joinedAt), user: of, permissions: MEMBER_PERMISSIONS };
}

export interface GuildShape {
  id: string;
  name: string;
  ownerId: string;
  roles: readonly APIRole[];
  channels: readonly APITextChannel[];
  members: readonly APIGuildMember[];
  joinedAt: string;
}

/** The GUILD_CREATE payload that follows READY for each guild the bot is in. */
export function guildCreate(guild: GuildShape): GatewayGuildCreateDispatchData {
  return {
    id: guild.id,
    name: guild.name,
    icon: null,
    splash: null,
    discovery_splash: null,
    banner: null,
    description: null,
    owner_id: guild.ownerId,
    afk_channel_id: null,
    afk_timeout: 300,
    verification_level: 0,
    default_message_notifications: 0,
    explicit_content_filter: 0,
    roles: [...guild.roles],
    emojis: [],
    stickers: [],
    features: [],
    mfa_level: 0,
    application_id: null,
    system_channel_id: null,
    system_channel_flags: NO_FLAGS as GuildSystemChannelFlags,
    rules_channel_id: null,
    vanity_url_code: null,
    premium_tier: 0,
    premium_subscription_count: 0,
    preferred_locale: LOCALE,
    public_updates_channel_id: null,
    nsfw_level: 0,
    premium_progress_bar_enabled: false,
    hub_type: null,
    safety_alerts_channel_id: null,
    incidents_data: null,
    joined_at: guild.joinedAt,
    large: false,
    unavailable: false,
    member_count: guild.members.length,
    voice_states: [],
    members: [...guild.members],
    channels: guild.channels.map((c) => ({ ...c })),
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    soundboard_sounds: [],
  };
}

/** READY: the bot user, the guilds it is in (unavailable until their GUILD_CREATE), the session to resume. */
export function ready(bot: APIUser, applicationId: string, guildIds: readonly string[], sessionId: string, resumeGatewayUrl: string): GatewayReadyDispatchData {
  return {
    v: 10,
    user: bot,
    guilds: guildIds.map((id) => ({ id, unavailable: true })),
    session_id: sessionId,
    resume_gateway_url: resumeGatewayUrl,
    shard: [0, 1],
    application: { id: applicationId, flags: NO_FLAGS as ApplicationFlags, flags_new: '0' },
  };
}

/** A message object as returned by POST /channels/{id}/messages and sent in MESSAGE_CREATE. */
export function message(fields: {
  id: string;
  channelId: string;
  author: APIUser;
  content?: string;
  embeds?: APIMessage['embeds'];
  components?: APIMessage['components'];
  flags?: number;
  type?: MessageType;
  webhookId?: string;
  applicationId?: string;
  /** The sender's nonce, echoed back as Discord does. */
  nonce?: string | number;
}): APIMessage {
  return {
    id: fields.id,
    channel_id: fields.channelId,
    author: fields.author,
    content: fields.content ?? '',
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: fields.embeds ?? [],
    components: fields.components ?? [],
    pinned: false,
    type: fields.type ?? MessageType.Default,
    flags: fields.flags ?? 0,
    ...(fields.webhookId ? { webhook_id: fields.webhookId } : {}),
    ...(fields.applicationId ? { application_id: fields.applicationId } : {}),
    ...(fields.nonce !== undefined ? { nonce: fields.nonce } : {}),
  };
}

interface InteractionBase {
  id: string;
  token: string;
  applicationId: string;
  guildId: string;
  channel: APITextChannel;
  member: APIInteractionGuildMember;
}

function interactionCommon(base: InteractionBase) {
  return {
    id: base.id,
    application_id: base.applicationId,
    token: base.token,
    version: 1 as const,
    guild_id: base.guildId,
    guild: { id: base.guildId, locale: LOCALE, features: [] },
    channel_id: base.channel.id,
    channel: {
      id: base.channel.id,
      type: base.channel.type,
      guild_id: base.guildId,
      name: base.channel.name,
      nsfw: false,
      parent_id: null,
      permissions: MEMBER_PERMISSIONS,
      position: 0,
      flags: 0,
      last_message_id: null,
      rate_limit_per_user: 0,
      topic: null,
    },
    member: base.member,
    app_permissions: MEMBER_PERMISSIONS,
    locale: LOCALE,
    guild_locale: LOCALE,
    entitlements: [],
    // 0 = GUILD_INSTALL: the bot was added to the guild that owns this interaction.
    authorizing_integration_owners: { 0: base.guildId },
    context: 0 as const,
    attachment_size_limit: 10_485_760,
  };
}

/** INTERACTION_CREATE for a slash command (type 2, data.type 1 CHAT_INPUT, STRING options). */
export function slashCommandInteraction(
  base: InteractionBase,
  command: APIApplicationCommand,
  options: ReadonlyArray<{ name: string; value: string }>,
): APIChatInputApplicationCommandGuildInteraction {
  const dataOptions: APIApplicationCommandInteractionDataOption[] = options.map((o) => ({ name: o.name, type: 3, value: o.value }));
  return {
    ...interactionCommon(base),
    type: InteractionType.ApplicationCommand,
    data: {
      id: command.id,
      name: command.name,
      type: ApplicationCommandType.ChatInput,
      guild_id: base.guildId,
      ...(dataOptions.length > 0 ? { options: dataOptions } : {}),
    },
  };
}

/** INTERACTION_CREATE for a button press (type 3, component_type 2), carrying the whole message the button is on. */
export function buttonInteraction(base: InteractionBase, customId: string, onMessage: APIMessage): APIMessageComponentButtonInteraction {
  return {
    ...interactionCommon(base),
    type: InteractionType.MessageComponent,
    data: { custom_id: customId, component_type: ComponentType.Button },
    message: onMessage,
  };
}
