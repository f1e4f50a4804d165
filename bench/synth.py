"""Synthetic knowledge bases for benchmarks: N valid articles of about 600 words,
mixed Chinese and English, with categories, tags, products and error codes.

    python -m bench.synth OUT_DIR --articles 10000 [--seed 1]

The output is a complete articles folder (with _kb/ vocabulary) that `kb check`
accepts, so `kb build --articles OUT_DIR` indexes it.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

CATEGORIES = {
    "accounts": ("账号", "Accounts"), "accounts/password": ("密码", "Passwords"),
    "network": ("网络", "Network"), "network/vpn": ("VPN", "VPN"), "network/wifi": ("无线网络", "Wi-Fi"),
    "email": ("邮件", "Email"), "email/outlook": ("Outlook 客户端", "Outlook client"),
    "printing": ("打印", "Printing"), "devices": ("设备", "Devices"), "devices/laptop": ("笔记本", "Laptops"),
    "storage": ("存储", "Storage"), "software": ("软件", "Software"), "meetings": ("会议", "Meetings"),
    "security": ("安全", "Security"), "database": ("数据库", "Databases"),
}
TAGS = ["windows", "macos", "linux", "ios", "android", "error-code", "performance", "permissions", "certificates",
        "remote-work", "self-service", "migration", "backup", "monitoring", "upgrade"]
PRODUCTS = {"windows": ["10", "11"], "macos": ["14", "15"], "outlook": [], "teams": [], "globalprotect": [],
            "tidb": ["7.5", "8.1"], "office": [], "onedrive": [], "zoom": [], "papercut": []}

EN_WORDS = (  # noqa: SIM905 - a word list reads better as text
    "account password reset expire lock unlock sign login logon profile credential token "
    "certificate network connection gateway proxy firewall router switch address resolve timeout latency "
    "packet route tunnel client server service daemon process thread memory disk volume "
    "partition backup restore snapshot replica mailbox message delivery bounce recipient sender calendar "
    "meeting invite folder archive quota attachment printer queue spooler driver tray toner "
    "scan document job duplex color paper jam offline default share laptop battery "
    "charge screen display monitor keyboard mouse dock adapter port cable firmware bios "
    "boot update install uninstall upgrade patch version release rollback package license activation "
    "deploy config database query index table column region store cluster node leader "
    "follower schema transaction commit error warning failure crash hang freeze slow fast "
    "cannot unable missing broken corrupt invalid denied user admin group policy permission "
    "role access audit security phishing malware encrypt decrypt key secret restart reboot "
    "check verify clear remove delete add create enable disable configure set change "
    "move copy sync upload download open close save export import search filter "
    "sort report alert monitor log trace"
).split()
ZH_WORDS = (  # noqa: SIM905
    "账号 密码 重置 过期 锁定 解锁 登录 证书 令牌 网络 连接 网关 代理 防火墙 路由 地址 解析 超时 延迟 客户端 "
    "服务器 服务 进程 内存 磁盘 分区 备份 恢复 快照 副本 邮箱 邮件 投递 退信 收件人 日历 会议 邀请 文件夹 归档 "
    "配额 附件 打印机 队列 驱动 扫描 文档 任务 共享 笔记本 电池 充电 屏幕 显示器 键盘 鼠标 扩展坞 固件 启动 更新 "
    "安装 卸载 升级 补丁 版本 发布 回滚 许可证 激活 部署 配置 数据库 查询 索引 表 集群 节点 事务 提交 错误 "
    "警告 失败 崩溃 卡住 缓慢 无法 丢失 损坏 无效 拒绝 用户 管理员 权限 角色 审计 安全 钓鱼 加密 密钥 重启 "
    "检查 验证 清除 删除 添加 创建 启用 禁用 设置 修改 移动 同步 上传 下载 打开 关闭 保存 导出 导入 搜索"
).split()
ZH_GLUE = ["的", "了", "在", "时", "后", "，", "。", "请", "先", "然后", "如果", "可以", "需要", "出现"]


def error_code(rng: random.Random) -> str:
    kind = rng.randrange(8)
    if kind == 0:
        return f"0x{rng.choice(['8007', '8004', '800F', 'C004', '87D0'])}{rng.randrange(16**4):04X}"
    if kind == 1:
        return f"ORA-{rng.randrange(1, 30000):05d}"
    if kind == 2:
        return f"HTTP {rng.choice([400, 401, 403, 404, 500, 502, 503, 504])}"
    if kind == 3:
        return f"KB{rng.randrange(4000000, 5100000)}"
    if kind == 4:
        return f"550 5.{rng.randrange(1, 8)}.{rng.randrange(0, 200)}"
    if kind == 5:
        return f"ERROR {rng.randrange(1000, 9999)} (HY000)"
    if kind == 6:
        return f"E_{rng.choice(['ACCESSDENIED', 'FAIL', 'INVALIDARG', 'OUTOFMEMORY', 'NOTIMPL'])}"
    return f"AADSTS{rng.randrange(50000, 90000)}"


def sentence(rng: random.Random, lang: str, codes: list[str]) -> str:
    if lang == "en":
        words = [rng.choice(EN_WORDS) for _ in range(rng.randrange(8, 16))]
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice(codes))
        return " ".join(words).capitalize() + "."
    parts = []
    for _ in range(rng.randrange(6, 12)):
        parts.append(rng.choice(ZH_WORDS))
        if rng.random() < 0.4:
            parts.append(rng.choice(ZH_GLUE))
        if rng.random() < 0.08:
            parts.append(rng.choice(EN_WORDS))  # mixed text without spaces
    if rng.random() < 0.15:
        parts.append(" " + rng.choice(codes) + " ")
    return "".join(parts) + "。"


def article(rng: random.Random, number: int) -> tuple[str, str]:
    """(relative path, file text) of article `number`."""
    lang = "zh" if number % 2 else "en"
    category = rng.choice(list(CATEGORIES))
    codes = [error_code(rng) for _ in range(rng.randrange(1, 4))]
    title_words = [rng.choice(EN_WORDS if lang == "en" else ZH_WORDS) for _ in range(rng.randrange(3, 7))]
    title = (" " if lang == "en" else "").join(title_words).capitalize() + f" {codes[0]}"
    product = rng.choice(list(PRODUCTS))
    versions = PRODUCTS[product]
    product_value = f"{product}@{rng.choice(versions)}" if versions and rng.random() < 0.5 else product
    tags = sorted(set(rng.sample(TAGS, rng.randrange(1, 4))))
    state = rng.choices(["validated", "unverified", "archived", "draft"], [50, 40, 7, 3])[0]
    article_id = f"synth-{number:06d}"
    sections = []
    words = 0
    headings = ["Issue", "Environment", "Resolution", "Cause"] if lang == "en" else ["问题", "环境", "解决方法", "原因"]
    for heading in headings:
        paragraph = []
        for _ in range(rng.randrange(3, 7)):
            text = sentence(rng, lang, codes)
            paragraph.append(text)
            words += len(text.split()) if lang == "en" else len(text) // 2
        sections.append(f"## {heading}\n\n" + (" " if lang == "en" else "").join(paragraph))
        if words > 600:
            break
    while words < 550:
        text = sentence(rng, lang, codes)
        sections[-1] += (" " if lang == "en" else "") + text
        words += len(text.split()) if lang == "en" else len(text) // 2
    front = [
        "---", f"id: {article_id}", f'title: "{title}"', "type: problem", f"state: {state}", f"lang: {lang}",
        f"categories: [{category}]", f"tags: [{', '.join(tags)}]", f'products: ["{product_value}"]',
        "errors: [" + ", ".join(f'"{c}"' for c in codes) + "]",
        f'summary: "{sentence(rng, lang, codes)[:150]}"', "owner: bench", "---", "",
    ]
    path = f"{lang}/{category.split('/')[0]}/{article_id}.md"
    return path, "\n".join(front) + "\n\n".join(sections) + "\n"


def write_vocabulary(root: Path) -> None:
    kb = root / "_kb"
    kb.mkdir(parents=True, exist_ok=True)
    (kb / "categories.yaml").write_text("".join(f"{slug}: {{zh: {zh}, en: {en}}}\n"
                                                for slug, (zh, en) in CATEGORIES.items()), encoding="utf-8")
    (kb / "tags.yaml").write_text("".join(f"{t}: {{zh: {t}, en: {t}}}\n" for t in TAGS), encoding="utf-8")
    (kb / "products.yaml").write_text("".join(
        f"{p}: {{name: {p.title()}" + (f", versions: [{', '.join(repr(v) for v in vs)}]" if vs else "") + "}\n"
        for p, vs in PRODUCTS.items()), encoding="utf-8")
    (kb / "synonyms.yaml").write_text("vpn: [虚拟专用网]\nmailbox: [邮箱]\nprinter: [打印机]\n", encoding="utf-8")
    (kb / "userdict.txt").write_text("虚拟专用网 20 n\n扩展坞 20 n\n", encoding="utf-8")


def generate(root: Path, count: int, seed: int = 1) -> list[str]:
    """Write `count` articles under root (replacing earlier synthetic ones); returns their paths."""
    rng = random.Random(seed)
    write_vocabulary(root)
    paths = []
    for number in range(count):
        rel, text = article(rng, number)
        file = root / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        paths.append(rel)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    paths = generate(args.out, args.articles, args.seed)
    print(f"wrote {len(paths)} articles to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
