"""Interface language: chosen from a cookie the switch sets, else Accept-Language; messages and dates.

Messages are whole English sentences (named placeholders, `ngettext` for plurals), translated
through the gettext catalogue `kb/locale/zh/LC_MESSAGES/messages.po` that the CLI shares (kb.i18n).
Templates call `_()` and `ngettext()` (Jinja's i18n extension, new-style: `_('%(n)d days', n=30)`
escapes the values). The ZH table below is the older home of the Chinese texts: still consulted
when the catalogue lacks a message, and `kb i18n extract` copies its entries into the catalogue;
tests/test_i18n.py fails on any message of a template or of the code that the catalogue lacks.
"""

from __future__ import annotations

import datetime as dt

from flask import Flask, g, request
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from kb import i18n as catalogue
from web.settings import get_settings

LANGUAGES = ("en", "zh")
LANG_COOKIE = "kb_lang"
LANG_NAMES = {"en": "English", "zh": "中文"}

ZH: dict[str, str] = {
    "Search": "搜索",
    "Search the knowledge base": "搜索知识库",
    "Search articles, error codes, symptoms…": "搜索文章、错误代码、症状……",
    "Skip to content": "跳到正文",
    "Home": "首页",
    "Categories": "分类",
    "Ticket categories": "工单分类",
    "Onboarding": "入职引导",
    "Onboarding paths": "入职学习路径",
    "Recent changes": "最近更新",
    "Review due": "待复审",
    "Interface language": "界面语言",
    "Switch": "切换",
    "Recently updated": "最近更新的文章",
    "Most-used solutions": "最常用的解决方案",
    "Shown once resolved tickets are recorded.": "记录已解决的工单后显示。",
    "Tickets resolved in the last": "最近",
    "days": "天内解决的工单数",
    "tickets": "工单数",
    "articles": "篇文章",
    "article": "篇文章",
    "No articles yet.": "还没有文章。",
    "Results": "搜索结果",
    "Narrow results": "筛选结果",
    "Category": "分类",
    "Tag": "标签",
    "Product": "产品",
    "Type": "类型",
    "Language": "语言",
    "State": "状态",
    "Clear filters": "清除筛选",
    "Remove filter": "移除筛选",
    "Did you mean": "您是不是要找",
    "Showing results for": "以下是",
    "Search instead for": "仍然搜索",
    "The query has no searchable words: type a word, an error message or a code.":
        "查询中没有可搜索的词语：请输入词语、错误信息或错误代码。",
    "results": "条结果",
    "result": "条结果",
    "in": "用时",
    "Previous": "上一页",
    "Next": "下一页",
    "Page": "第",
    "of": "页，共",
    "Pages": "分页",
    "No articles match": "没有找到匹配的文章",
    "Try fewer or different words, check the spelling, or browse a category:":
        "请尝试更少或不同的词语，检查拼写，或按分类浏览：",
    "Write an article for this": "为此撰写一篇文章",
    "Create it with:": "用以下命令创建：",
    "Or start from the knowledge base on the git host:": "或在 git 托管平台上编辑知识库：",
    "Copy": "复制",
    "Copied": "已复制",
    "Contents": "目录",
    "Details": "详细信息",
    "Tags": "标签",
    "Products": "产品",
    "Errors resolved": "解决的错误",
    "Owner": "负责人",
    "Last updated": "最后更新",
    "by": "由",
    "Reviewed": "上次复审",
    "Possibly outdated": "可能已过时",
    "This article was due for review on": "本文应于以下日期复审：",
    "check that the steps still apply.": "请确认步骤仍然适用。",
    "Read in": "阅读",
    "Related articles": "相关文章",
    "Edit": "编辑",
    "History": "历史",
    "Flag as wrong or outdated": "标记为错误或过时",
    "What is wrong?": "哪里有问题？",
    "Send flag": "提交标记",
    "Thank you: the owner will be told.": "谢谢：已通知负责人。",
    "Record a resolved ticket": "记录已解决的工单",
    "Recording resolved tickets against this article arrives with ticket records.":
        "工单记录功能上线后，可在此记录用本文解决的工单。",
    "problem": "问题",
    "howto": "操作指南",
    "reference": "参考",
    "onboarding": "入职",
    "draft": "草稿",
    "unverified": "未验证",
    "validated": "已验证",
    "archived": "已归档",
    "Solutions, best first": "解决方案（最佳优先）",
    "Articles tagged": "标签下的文章",
    "Articles about": "相关产品文章",
    "Subcategories": "子分类",
    "Audience": "适用对象",
    "steps": "个步骤",
    "done": "已完成",
    "Progress is kept in this browser.": "进度保存在此浏览器中。",
    "Reset progress": "重置进度",
    "Mark as done": "标记为完成",
    "Missing article": "缺少文章",
    "Overdue reviews, grouped by owner": "逾期复审，按负责人分组",
    "No reviews are overdue.": "没有逾期的复审。",
    "No owner": "无负责人",
    "due": "到期",
    "Updated": "更新",
    "Page not found": "页面未找到",
    "There is nothing at this address. Try searching:": "此地址没有内容。试试搜索：",
    "Bad request": "请求有误",
    "The search index is not built yet": "搜索索引尚未构建",
    "Build it on the server with:": "请在服务器上运行以下命令构建：",
    "then reload this page.": "然后重新加载此页面。",
    "Something went wrong": "出错了",
    "Feed": "订阅源",
    "Reports": "报表",
    "Build status": "构建状态",
    "Atom feed of recent changes": "最近更新的 Atom 订阅源",
    "Search took": "搜索用时",
    "Search suggestions": "搜索建议",
    "all": "全部",
    "Top": "顶部",
    "Knowledge base": "知识库",
    "No articles match “%(query)s”.": "没有找到与“%(query)s”匹配的文章。",
    "Type what you are looking for after the command, e.g. “vpn error 809”.":
        "请在命令后输入要查找的内容，例如“VPN 错误 809”。",
    # Reports and build status pages
    'Ticket': '工单号',
    'Ticket category': '工单分类',
    'How the article helped': '文章的作用',
    'resolved': '解决了问题',
    'referenced': '作为参考',
    'created_from': '据此工单写成',
    'Note (optional)': '备注（可选）',
    'Your name': '你的名字',
    'Record': '记录',
    'Tickets resolved': '已解决的工单',
    'Last used': '最近使用',
    'By': '使用者',
    'Not used on a ticket yet.': '还没有工单使用过这篇文章。',
    'Usage report': '使用报告',
    'KCS report': 'KCS 报表',
    'Period': '时间段',
    'last 7 days': '最近 7 天',
    'last 30 days': '最近 30 天',
    'last 90 days': '最近 90 天',
    'last 365 days': '最近 365 天',
    'all time': '全部',
    'Show': '显示',
    'Tickets': '工单',
    'with an article': '有文章',
    'without an article': '无文章',
    'Link rate': '关联率',
    'Reuse': '复用',
    'New': '新写',
    'Reuse versus new': '复用与新写',
    'Tickets by category': '各分类的工单',
    'Link rate by category': '各分类的关联率',
    'Top solutions': '最常用的解决方案',
    'Content gaps': '内容缺口',
    'Searches that found nothing': '没有结果的搜索',
    'searches': '次搜索',
    'Unused articles': '未被使用的文章',
    'Review overdue': '已过复审期',
    'Open flags': '未处理的标记',
    'None.': '无。',
    'Download': '下载',
    'Categories report': '分类报表',
    'Article usage': '文章使用情况',
    'Recent tickets': '最近的工单',
    'Relation': '关系',
    'When': '时间',
    'Recorded ticket': '已记录工单',
    'was already recorded': '已经记录过',
    'all categories': '所有分类',
    'Due': '复审日期',
    'Reason': '原因',
    'Flagged by': '标记人',
    'Article': '文章',
    'Live commit': '线上版本',
    'built': '构建于',
    'No index has been built yet.': '还没有构建索引。',
    'Last sync failed': '最近一次同步失败',
    'Problems': '问题',
    'No problems in the live articles.': '线上文章没有问题。',
    'File': '文件',
    'Problem': '问题',
    'Last changed by': '最后修改者',
    'On the site': '网站上',
    'kept version': '保留版本',
    'left out': '未发布',
    'as pushed': '按推送内容',
    'Recent syncs': '最近的同步',
    'Commit': '提交',
    'Outcome': '结果',
    'Changes': '变化',
    'No syncs recorded on this machine.': '这台机器还没有同步记录。',
    'JSON': 'JSON',
    # The knowledge loop on the article page (web/records.py)
    'Solved a ticket with this': '用本文解决了一个工单',
    'More details': '更多信息',
    'Choose…': '请选择……',
    'Record with': '按此分类记录：',
    'One ticket has one category, so past reports stay true. If the stored category is right, record it with that one:':
        '一个工单只有一个分类，这样过去的报表才保持准确。如果已存的分类正确，请按它记录：',
    'Ticket subject (optional)': '工单标题（可选）',
    'Ticket opened (optional)': '工单创建日期（可选）',
    'Thank you.': '谢谢。',
    'nothing changed.': '没有改动。',
    'Was this helpful?': '这篇文章有帮助吗？',
    'Yes, it helped': '有帮助',
    'No': '没有',
    'Comment (optional)': '意见（可选）',
    'Thank you for your feedback.': '谢谢你的反馈。',
    'Flags': '标记',
    'open flag': '个未处理的标记',
    'open flags': '个未处理的标记',
    'someone': '某人',
    'Close: fixed or not a problem': '关闭：已修正或不是问题',
    'Flag closed': '标记已关闭',
    'Say what is wrong, so the owner can fix it.': '请说明哪里有问题，负责人才能修正。',
    'Thank you: the flag is shown on this article and in the reports.': '谢谢：标记会显示在本文和报表中。',
    'You already flagged this article for this reason; the flag is still open.':
        '你已经以同样的原因标记过本文，该标记仍未处理。',
    ('A Process Alignment Review: for each ticket drawn below, was the linked article the right one? '
     'The marks make the link accuracy of the KCS report.'):
        '流程一致性复核：下面抽取的每个工单，关联的文章是否正确？这些判定构成 KCS 报表中的关联准确率。',
    'Create': '新建',
    'Days since review': '距上次复审天数',
    'Days to first resolution': '到首次解决工单的天数',
    'Done': '已完成',
    'Draw a new sample': '重新抽样',
    'First resolved ticket': '首次解决工单',
    'Give your name, so the marks can be told apart.': '请填写你的名字，以便区分不同人的判定。',
    'Helpful rate': '有帮助比例',
    'KCS band': 'KCS 建议区间',
    'KCS measures': 'KCS 指标',
    'Known': '已知问题',
    'Known and new issues over time': '已知与新问题的变化',
    'Known versus new issues': '已知问题与新问题',
    'Last step': '最近完成',
    'Link accuracy': '关联准确率',
    'Link accuracy review': '关联准确率复核',
    'Link rate, helpful rate and participation over time': '关联率、有帮助比例和参与率的变化',
    'Linked by': '关联人',
    'Measures by category': '各分类的指标',
    'Newcomer': '新同事',
    'No one has stored onboarding progress yet.': '还没有人保存入职进度。',
    'No tickets were linked in this period.': '这段时间没有关联文章的工单。',
    'Not linked to a ticket in the period; onboarding reading and articles younger than the period are left out.':
        '这段时间没有关联工单的文章；入职阅读材料和比时间段更新的文章不计入。',
    'Onboarding path': '入职学习路径',
    'Onboarding progress': '入职进度',
    'Participation': '参与率',
    'Progress': '进度',
    ('Progress is stored per person when the reverse proxy names the user; '
     'otherwise it stays in each browser and is not shown here.'):
        '反向代理提供用户名时，进度按人保存；否则只保存在各自的浏览器中，不在此显示。',
    'Progress of': '进度：',
    'Reuse is review: reuse × days since review × (1 + open flags).':
        '复用即复审：复用次数 × 距上次复审天数 × (1 + 未处理标记数)。',
    'Reuse versus create': '复用与新建',
    'Review queue, by demand': '复审队列（按需求排序）',
    'Right': '正确',
    'Right article?': '文章正确吗？',
    'Started': '开始',
    'Tickets to draw': '抽取工单数',
    'Trend': '趋势',
    'Was it helpful? By article': '是否有帮助（按文章）',
    'Wrong': '错误',
    'Yes': '有帮助',
    'answers to “Was this helpful?”': '条“这篇文章有帮助吗？”的回答',
    'everything as JSON': '全部数据（JSON）',
    'known: the article existed before the ticket was opened': '已知：工单创建前文章已存在',
    'links reviewed': '条关联已复核',
    'people linked, flagged or rated articles': '人关联、标记或评价了文章',
    'review a sample': '抽样复核',
    'solved by an existing article / article written from the ticket': '用已有文章解决 / 据工单新写文章',
    'tickets linked to an article': '个工单关联了文章',
    'without an opening time (the recording time was used)': '个没有创建时间（按记录时间计算）',
    'below the band': '低于区间',
    'within the band': '在区间内',
    'above the band': '高于区间',
    'Searches that led to an article': '带来点击的搜索',
    'clicked results, of searches that found something': '次点击了结果（在有结果的搜索中）',
    'Top searches': '热门搜索',
    'No tickets were recorded in this period yet.': '这段时间还没有记录工单。',
    'Query': '搜索词',
    'Searches': '搜索次数',
    'Found nothing': '无结果',
    'Clicks': '点击',
    'Most opened': '最常打开',
    'From': '来源',
    'source-web': '网站',
    'source-api': 'API',
    'source-suggest': '工单推荐',
    'source-typed': '输入联想',
    'week': '周',
    'month': '月',
    # the reader (issue 15)
    "Menu": "菜单",
    "Dark theme": "深色主题",
    "Light theme": "浅色主题",
    "Press / or Ctrl+K to search": "按 / 或 Ctrl+K 搜索",
    "Press": "按",
    "or": "或",
    "to search from any page": "可在任何页面搜索",
    "See all results for": "查看全部结果：",
    "Article id": "文章 ID",
    "Error code": "错误代码",
    "Link to this section": "本节链接",
    "Filters": "筛选",
    "Press Ctrl+C": "请按 Ctrl+C",
    "Breadcrumb": "导航路径",
    "step %(number)s of %(total)s": "第 %(number)s 步，共 %(total)s 步",
    "previous": "上一步",
    "next": "下一步",
    "back to the path": "返回学习路径",
    "Recently viewed": "最近浏览",
    "Step": "步骤",
}

# Article types and states are stored as slugs; English readers see them as words.
EN: dict[str, str] = {
    "problem": "Problem", "howto": "How-to", "reference": "Reference", "onboarding": "Onboarding",
    "draft": "Draft", "unverified": "Unverified", "validated": "Validated", "archived": "Archived",
    # record relations (kb.records.models.RELATIONS)
    "resolved": "Solved the ticket", "referenced": "Helped as a reference", "created_from": "Written from this ticket",
    # where a logged search came from (kb.records.models.SEARCH_SOURCES)
    "source-web": "site", "source-api": "API", "source-suggest": "ticket suggest", "source-typed": "as you type",
}
TRANSLATIONS = {"en": EN, "zh": ZH}


def choose_language(cookie: str | None, accept_language: list[tuple[str, float]], default: str) -> str:
    """The switch's cookie wins; then the first supported Accept-Language entry; then the default."""
    if cookie in LANGUAGES:
        return cookie
    for value, _quality in accept_language:  # werkzeug sorts by quality
        primary = value.split("-", 1)[0].split("_", 1)[0].lower()
        if primary in LANGUAGES:
            return primary
    return default if default in LANGUAGES else "en"


def current_language() -> str:
    """The interface language of the current request."""
    lang: str | None = g.get("lang")
    if lang is None:
        lang = choose_language(request.cookies.get(LANG_COOKIE), list(request.accept_languages),
                               get_settings().default_lang)
        g.lang = lang
    return lang


def translate_to(lang: str, message: str) -> str:
    """The message in a language named explicitly (chat answers follow the requester, not the browser)."""
    if lang == "en":
        return EN.get(message, message)
    found = catalogue.translations(lang).gettext(message)
    if found != message:
        return found
    return TRANSLATIONS.get(lang, EN).get(message, message)


def translate(message: str) -> str:
    """The message in the interface language (English text is the key)."""
    return translate_to(current_language(), message)


def translate_plural(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count` in the interface language (Chinese has one form)."""
    lang = current_language()
    if lang == "en":
        return singular if count == 1 else plural
    return catalogue.translations(lang).ngettext(singular, plural, count)


def format_date(value: dt.date | dt.datetime | None, lang: str | None = None) -> str:
    """A date the way a reader of `lang` writes it (CLDR): 24 Nov 2026 or 2026年11月24日."""
    if value is None:
        return ""
    return catalogue.format_date(value, lang or current_language())


def time_tag(value: dt.date | dt.datetime | None) -> Markup:
    """A <time> element with the machine-readable date and the reader's format."""
    if value is None:
        return Markup("")
    iso = value.date().isoformat() if isinstance(value, dt.datetime) else value.isoformat()
    return Markup('<time datetime="{}">{}</time>').format(iso, escape(format_date(value)))


def _vary(response: Response) -> Response:
    # The same URL answers in the language of the cookie or Accept-Language: tell caches.
    response.vary.update(("Accept-Language", "Cookie"))
    return response


def _use_request_language() -> None:
    # Code that formats through kb.i18n (dates, kb's own messages) speaks the reader's language too.
    catalogue.use_language(current_language())


def _forget_request_language(_exc: BaseException | None) -> None:
    # The test client and threaded servers reuse the thread: the next request (or CLI code) starts clean.
    catalogue.use_language(None)


def init_app(app: Flask) -> None:
    """Expose `_`, `ngettext`, the language and date helpers to templates."""
    app.before_request(_use_request_language)
    app.teardown_request(_forget_request_language)
    app.after_request(_vary)
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        translate, translate_plural, newstyle=True)
    app.jinja_env.globals.update(current_language=current_language, LANG_NAMES=LANG_NAMES, LANGUAGES=LANGUAGES)
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["time_tag"] = time_tag
