"""The personal and city pages' own words in English, Spanish and Portuguese."""

from __future__ import annotations

from typing import Final

from models.enums import Language

PageText = dict[str, str]

_EN: Final[PageText] = {
    "lang": "en",
    "brand": "City Data Alliance Accelerator",
    "person_title": "Your Accelerator calendar",
    "city_title": "{city}: the team's Accelerator calendar",
    "greeting": "Hello, {name}.",
    "times_in": "Time zone: {zone}",
    "next_sessions": "Next sessions",
    "no_sessions": "No sessions ahead.",
    "cancelled": "Cancelled",
    "join": "Join online",
    "subscribe": "Subscribe to this calendar",
    "subscribe_intro": "Subscribe once and every session appears in your calendar, in your own time, and stays up to date when something moves.",
    "open_in_app": "Open in your calendar app (webcal)",
    "copy_link": "Calendar link to paste (https)",
    "copy_button": "Copy",
    "google": "Google Calendar (on a computer): Settings → Add calendar → From URL, paste the https link, then Add calendar. Google refreshes subscribed calendars every few hours.",
    "outlook": "Outlook: Add calendar → Subscribe from web, paste the https link, give it a name and choose Import.",
    "apple": "Apple Calendar: open the webcal link above; or on a Mac, File → New Calendar Subscription, and on an iPhone or iPad, Settings → Calendar → Accounts → Add Account → Other → Add Subscribed Calendar, and paste the link.",
    "private": "Keep this page and these links to yourself: anyone who has them can read this calendar.",
    "deliverables": "Deliverables",
    "your_deliverables": "Your deliverables",
    "no_deliverables": "No deliverables.",
    "deliverable": "Deliverable",
    "due": "Due",
    "status": "Status",
    "submitted_on": "Submitted",
    "owners": "Owners",
    "status_submitted": "Submitted",
    "status_submitted_late": "Submitted late",
    "status_overdue": "Overdue",
    "status_due_soon": "Due soon",
    "status_upcoming": "Upcoming",
    "status_cancelled": "Cancelled",
}

_ES: Final[PageText] = {
    "lang": "es",
    "brand": "Acelerador City Data Alliance",
    "person_title": "Su calendario del Acelerador",
    "city_title": "{city}: calendario del equipo en el Acelerador",
    "greeting": "Hola, {name}.",
    "times_in": "Zona horaria: {zone}",
    "next_sessions": "Próximas sesiones",
    "no_sessions": "No hay sesiones por delante.",
    "cancelled": "Cancelada",
    "join": "Unirse en línea",
    "subscribe": "Suscribirse a este calendario",
    "subscribe_intro": "Suscríbase una vez y cada sesión aparecerá en su calendario, en su propia hora, y se actualizará cuando algo cambie.",
    "open_in_app": "Abrir en su aplicación de calendario (webcal)",
    "copy_link": "Enlace del calendario para pegar (https)",
    "copy_button": "Copiar",
    "google": "Google Calendar (en una computadora): Configuración → Agregar calendario → Desde URL, pegue el enlace https y elija Agregar calendario. Google actualiza los calendarios suscritos cada pocas horas.",
    "outlook": "Outlook: Agregar calendario → Suscribirse desde la web, pegue el enlace https, póngale un nombre y elija Importar.",
    "apple": "Calendario de Apple: abra el enlace webcal de arriba; o en una Mac, Archivo → Nueva suscripción a calendario, y en un iPhone o iPad, Ajustes → Calendario → Cuentas → Añadir cuenta → Otra → Añadir calendario suscrito, y pegue el enlace.",
    "private": "Guarde esta página y estos enlaces para usted: cualquiera que los tenga puede leer este calendario.",
    "deliverables": "Entregables",
    "your_deliverables": "Sus entregables",
    "no_deliverables": "No hay entregables.",
    "deliverable": "Entregable",
    "due": "Vence",
    "status": "Estado",
    "submitted_on": "Entregado",
    "owners": "Responsables",
    "status_submitted": "Entregado",
    "status_submitted_late": "Entregado con retraso",
    "status_overdue": "Vencido",
    "status_due_soon": "Vence pronto",
    "status_upcoming": "Próximo",
    "status_cancelled": "Cancelado",
}

_PT: Final[PageText] = {
    "lang": "pt",
    "brand": "Acelerador City Data Alliance",
    "person_title": "Sua agenda do Acelerador",
    "city_title": "{city}: agenda da equipe no Acelerador",
    "greeting": "Olá, {name}.",
    "times_in": "Fuso horário: {zone}",
    "next_sessions": "Próximas sessões",
    "no_sessions": "Nenhuma sessão pela frente.",
    "cancelled": "Cancelada",
    "join": "Entrar on-line",
    "subscribe": "Assinar esta agenda",
    "subscribe_intro": "Assine uma vez e cada sessão aparece na sua agenda, no seu horário, e se atualiza quando algo muda.",
    "open_in_app": "Abrir no seu aplicativo de agenda (webcal)",
    "copy_link": "Link da agenda para colar (https)",
    "copy_button": "Copiar",
    "google": "Google Agenda (no computador): Configurações → Adicionar agenda → Do URL, cole o link https e clique em Adicionar agenda. O Google atualiza agendas assinadas a cada poucas horas.",
    "outlook": "Outlook: Adicionar calendário → Assinar da Web, cole o link https, dê um nome e escolha Importar.",
    "apple": "Calendário da Apple: abra o link webcal acima; ou no Mac, Arquivo → Nova Assinatura de Calendário, e no iPhone ou iPad, Ajustes → Calendário → Contas → Adicionar Conta → Outra → Adicionar Calendário Assinado, e cole o link.",
    "private": "Guarde esta página e estes links só para você: quem os tiver pode ler esta agenda.",
    "deliverables": "Entregas",
    "your_deliverables": "Suas entregas",
    "no_deliverables": "Nenhuma entrega.",
    "deliverable": "Entrega",
    "due": "Prazo",
    "status": "Situação",
    "submitted_on": "Entregue",
    "owners": "Responsáveis",
    "status_submitted": "Entregue",
    "status_submitted_late": "Entregue com atraso",
    "status_overdue": "Atrasada",
    "status_due_soon": "Vence em breve",
    "status_upcoming": "Próxima",
    "status_cancelled": "Cancelada",
}

TEXTS: Final[dict[Language, PageText]] = {Language.EN: _EN, Language.ES: _ES, Language.PT: _PT}


def page_text(language: str) -> PageText:
    """The words for `language`; English for a language we have no words for.

    >>> page_text("pt")["next_sessions"], page_text("fr")["next_sessions"]
    ('Próximas sessões', 'Next sessions')
    """
    try:
        return TEXTS[Language(language)]
    except ValueError:
        return TEXTS[Language.EN]
